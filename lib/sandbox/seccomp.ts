/**
 * A classic-BPF seccomp program, built here and handed to `bwrap --seccomp FD`, that takes the
 * network away from a sandboxed command (what upstream's `network: restricted` filter denies):
 * every `socket()` family except AF_UNIX, `bind`/`connect` (the only sockets left are AF_UNIX,
 * and a path socket such as a container runtime's would otherwise be reachable through the
 * read-only `/`), `sendto` with an address, `ptrace` and `io_uring` (which could issue the same
 * operations without these syscalls). Everything else is allowed. Denials return EPERM, so
 * programs print "Operation not permitted" instead of dying.
 *
 * Only the native architecture is allowed: a 32-bit or x32 binary could reach `socketcall` and
 * other numbers this program does not check, so any other ABI gets EPERM for every call.
 * @module
 */

// BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const RET_K = 0x06;

// seccomp return values (linux/seccomp.h).
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;

// struct seccomp_data offsets.
const NR = 0;
const ARCH = 4;
const ARG_LOW = (index: number) => 16 + index * 8;
const ARG_HIGH = (index: number) => 20 + index * 8;

const AF_UNIX = 1;
const X32_SYSCALL_BIT = 0x40000000;

/** Syscall numbers and audit arch of one architecture. */
interface SyscallTable {
  auditArch: number;
  /** Numbers at or above this are a foreign ABI on this arch (x32 on x86_64). */
  foreignAbove?: number;
  socket: number;
  bind: number;
  connect: number;
  sendto: number;
  ptrace: number;
  ioUring: number[];
}

const TABLES: Record<string, SyscallTable> = {
  x86_64: {
    auditArch: 0xc000003e,
    foreignAbove: X32_SYSCALL_BIT,
    socket: 41,
    connect: 42,
    sendto: 44,
    bind: 49,
    ptrace: 101,
    ioUring: [425, 426, 427],
  },
  aarch64: {
    auditArch: 0xc00000b7,
    socket: 198,
    bind: 200,
    connect: 203,
    sendto: 206,
    ptrace: 117,
    ioUring: [425, 426, 427],
  },
};

/** Architectures {@link networkFilter} knows. */
export const SECCOMP_ARCHES: readonly string[] = Object.keys(TABLES);

type Insn = [code: number, jt: number, jf: number, k: number];

/** Options of {@link networkFilter}. */
export interface NetworkFilterOptions {
  /** `Deno.build.arch` spelling; default: this machine's. */
  arch?: string;
}

/**
 * The filter as the raw `struct sock_filter[]` bytes bwrap reads from its `--seccomp` fd.
 * Throws for an architecture without a syscall table (the caller then refuses to confine).
 *
 * @example
 * ```ts
 * const bytes = networkFilter();
 * bytes.length % 8; // 0: one 8-byte instruction each
 * ```
 */
export function networkFilter(options: NetworkFilterOptions = {}): Uint8Array {
  const arch = options.arch ?? Deno.build.arch;
  const table = TABLES[arch];
  if (!table) throw new Error(`no seccomp syscall table for ${arch}`);
  const program = assemble(table);
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach(([code, jt, jf, k], i) => {
    view.setUint16(i * 8, code, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return bytes;
}

// Labels are resolved to relative jumps after the program is laid out.
type Jump = { code: number; k: number; onTrue: string | null; onFalse: string | null };
type Step = Insn | Jump | { label: string };

function assemble(t: SyscallTable): Insn[] {
  const deny = "deny";
  const allow = "allow";
  const steps: Step[] = [
    [LD_W_ABS, 0, 0, ARCH],
    { code: JEQ_K, k: t.auditArch, onTrue: null, onFalse: deny },
    [LD_W_ABS, 0, 0, NR],
  ];
  if (t.foreignAbove !== undefined) {
    steps.push({ code: JGE_K, k: t.foreignAbove, onTrue: deny, onFalse: null });
  }
  const always = [t.bind, t.connect, t.ptrace, ...t.ioUring];
  for (const nr of always) steps.push({ code: JEQ_K, k: nr, onTrue: deny, onFalse: null });
  steps.push({ code: JEQ_K, k: t.socket, onTrue: "socket", onFalse: null });
  steps.push({ code: JEQ_K, k: t.sendto, onTrue: "sendto", onFalse: allow });
  // socket(domain, ...): only AF_UNIX; the kernel reads `domain` as an int (low 32 bits).
  steps.push({ label: "socket" });
  steps.push([LD_W_ABS, 0, 0, ARG_LOW(0)]);
  steps.push({ code: JEQ_K, k: AF_UNIX, onTrue: allow, onFalse: deny });
  // sendto(fd, buf, len, flags, dest_addr, addrlen): a destination reaches any datagram socket.
  steps.push({ label: "sendto" });
  steps.push([LD_W_ABS, 0, 0, ARG_LOW(4)]);
  steps.push({ code: JEQ_K, k: 0, onTrue: null, onFalse: deny });
  steps.push([LD_W_ABS, 0, 0, ARG_HIGH(4)]);
  steps.push({ code: JEQ_K, k: 0, onTrue: allow, onFalse: deny });
  steps.push({ label: allow });
  steps.push([RET_K, 0, 0, RET_ALLOW]);
  steps.push({ label: deny });
  steps.push([RET_K, 0, 0, RET_ERRNO | EPERM]);

  const labels = new Map<string, number>();
  let index = 0;
  for (const step of steps) {
    if ("label" in step) labels.set(step.label, index);
    else index++;
  }
  const program: Insn[] = [];
  for (const step of steps) {
    if ("label" in step) continue;
    if (Array.isArray(step)) {
      program.push(step);
      continue;
    }
    const here = program.length;
    const offset = (label: string | null) => {
      if (label === null) return 0;
      const target = labels.get(label)!;
      const distance = target - here - 1;
      if (distance < 0 || distance > 255) throw new Error(`seccomp jump out of range: ${label}`);
      return distance;
    };
    program.push([step.code, offset(step.onTrue), offset(step.onFalse), step.k]);
  }
  return program;
}
