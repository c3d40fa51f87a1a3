"""Multi-instance training: the hosts of a SageMaker job form one Spark standalone cluster.

SageMaker runs `train` on every host of a job with `InstanceCount > 1`, each with the same
`/opt/ml` layout and a `/opt/ml/input/config/resourceconfig.json`:

    {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"], "network_interface_name": "eth0"}

Roles (hosts sorted; `hosts[0]` leads):

- leader: starts a Spark master and a worker, serves a tiny job-status endpoint, waits until
  every other host's worker has registered (deadline `ALSRECO_CLUSTER_TIMEOUT`, default 300 s),
  then runs the normal training path as the driver against `spark://<leader>:7077`, with one
  executor per host sized from the smallest registered worker. It alone writes the model and
  `/opt/ml/output/data`.
- worker (every other host): resolves the leader (DNS retried until the deadline), starts a
  Spark worker pointed at the leader's master and follows the leader's status endpoint. It
  writes nothing to `/opt/ml/model` or `/opt/ml/output/data` and exits 0 once the leader
  reports success, non-zero (with `/opt/ml/output/failure`) if the leader reports a failure or
  stops answering for `LOST_LEADER_GRACE` seconds before reporting anything final.
- single: no `resourceconfig.json`, or one host: today's local mode, untouched.

Why a status endpoint and not the master's JSON: when a driver JVM dies (killed, OOM) the
standalone master records its application as FINISHED, exactly like a clean `spark.stop()`, and
the application ends before the leader writes the model. A success the leader announces itself,
after the model is written, is the only unambiguous signal. The leader then waits (at most
`ACK_WAIT` s) until every worker still alive has read the final state, so workers do not have to
guess from a vanished master.

Fixed ports (open between the hosts; SageMaker's VPC needs no change, hosts of one job can talk):

| port | what |
|---|---|
| 7077 | Spark master (RPC) |
| 8081 | Spark master web UI / JSON (`/json/`) |
| 7078 | Spark worker (RPC) |
| 8082 | Spark worker web UI |
| 7079 | driver RPC (`spark.driver.port`) |
| 7080 | driver block manager (`spark.driver.blockManager.port`) |
| 7081 | executor block managers (`spark.blockManager.port`) |
| 8083 | alsreco job status (leader, HTTP JSON) |

(Spark moves to the next port, up to 16 tries, if one is taken.)
"""
