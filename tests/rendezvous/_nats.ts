/**
 * The cluster tests' nats-server (shared with the bench lines).
 * @module
 */
export {
  type NatsServer,
  natsServerPath,
  NO_NATS,
  startNats,
  type StartNatsOptions,
} from "../../scripts/_nats_server.ts";
