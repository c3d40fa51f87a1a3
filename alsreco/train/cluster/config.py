"""`resourceconfig.json` and the input checks a multi-host job needs."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import UserError
from ...core.paths import Paths, read_json_object
from ..inputs import channels


@dataclass(frozen=True)
class ResourceConfig:
    current_host: str
    hosts: tuple[str, ...]
    network_interface_name: str | None = None

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def is_leader(self) -> bool:
        return self.current_host == self.leader

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1


def load_resource_config(paths: Paths) -> ResourceConfig | None:
    """`resourceconfig.json`, validated; None when absent (not a SageMaker training host)."""
    path = paths.resourceconfig_file
    raw = read_json_object(path)
    if raw is None:
        return None
    hosts = raw.get("hosts")
    current = raw.get("current_host")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise UserError(f"{path}: 'hosts' must be a non-empty list of host names, got {hosts!r}")
    if not isinstance(current, str) or current not in hosts:
        raise UserError(f"{path}: 'current_host' ({current!r}) must be one of 'hosts' {hosts}")
    iface = raw.get("network_interface_name")
    return ResourceConfig(current, tuple(sorted(set(hosts))), iface if isinstance(iface, str) and iface else None)


def check_input_distribution(paths: Paths) -> None:
    """Every host must see all the data: the driver reads it locally on the leader."""
    config = channels.input_data_config(paths)
    sharded = sorted(name for name, ch in config.items()
                     if isinstance(ch, dict) and str(ch.get("S3DistributionType", "")).lower() == "shardedbys3key")
    if sharded:
        raise UserError(
            f"channel(s) {sharded} use S3DistributionType=ShardedByS3Key: with more than one instance each host "
            f"then holds only a part of the data, but the leader reads the whole training set; "
            f"use S3DistributionType=FullyReplicated (distribution='FullyReplicated' in the SDK's TrainingInput) "
            f"or train on one instance")
