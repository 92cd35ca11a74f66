/**
 * The daemon config the cluster tests of the watcher share: `FILES` at replicas 3 declared by the
 * provisioner, one watch of `<dir>/storage` publishing to it, optionally the monitor writing
 * `<dir>/monitor/storage_monitor.log` through its own consumer.
 * @module
 */
import type { NatsCluster } from "../helpers/nats_cluster.ts";
import { writeConfig } from "../helpers/config.ts";

/** Writes the config file; resolves with its path. */
export function watcherClusterConfig(
  cluster: NatsCluster,
  dir: string,
  httpPort: number,
  options: { monitor: boolean },
): Promise<string> {
  const monitor = `
    consumers:
      - { stream: FILES, name: file-monitor }
  monitor:
    stream: FILES
    consumer: file-monitor
    output: { path: ${dir}/monitor/storage_monitor.log }`;
  return writeConfig(`
nats:
  servers: [${cluster.urls.map((u) => `"${u}"`).join(", ")}]
  reconnect: { wait: 100ms, max_wait: 1s, jitter: 100ms }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: 10s }
state_dir: ${dir}/state
roles:
  watcher:
    watches:
      - { name: storage, path: ${dir}/storage, stream: FILES, subject: file.events, settle: 100ms }
  stream_provisioner:
    streams:
      - { name: FILES, subjects: [file.events], replicas: 3 }${options.monitor ? monitor : ""}
`);
}
