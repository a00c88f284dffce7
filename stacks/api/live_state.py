"""A Worker as it serves: the one view every decision about a live Worker is made on (the write
path, refresh and drift, preflight, the canary, the audit).

What serves traffic is the active deployment's versions, each with its bindings. The latest
version is only a fact about the Worker: deployed or not, whose (the plane's own copies carry its
tag), with what bindings. The settings read answers for the latest version alone, which may be an
upload nobody deployed, so nothing decides on it.

Read with the fewest documented calls: the deployments listing, one page of the Workers API's
versions listing (the newest versions, bindings included), and each served version that page does
not hold (a rollback to an old version): two calls for almost every Worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .workers import DeploymentInfo, VersionFacts, WorkerApi


@dataclass(frozen=True)
class LiveState:
    script: str
    deployment: DeploymentInfo | None
    versions: Mapping[str, VersionFacts]  # every version read: the served ones and the newest page
    latest: VersionFacts | None

    @property
    def split(self) -> list[tuple[str, float]]:
        return list(self.deployment.split) if self.deployment else []

    @property
    def served(self) -> list[tuple[VersionFacts, float]]:
        """The versions that serve traffic, with their share."""
        return [(self.versions[vid], pct) for vid, pct in self.split if vid in self.versions]

    @property
    def bindings(self) -> dict[str, dict[str, dict[str, Any]]]:
        """version id -> binding name -> binding, for every served version."""
        return {version.id: dict(version.bindings) for version, _ in self.served}

    @property
    def in_flight(self) -> bool:
        """Traffic is split (a gradual deployment), or no version serves all of it."""
        return len(self.split) != 1 or self.split[0][1] != 100.0

    @property
    def latest_serves_all(self) -> bool:
        """The latest version serves 100%: the one state in which script-level writes are allowed."""
        return (self.latest is not None and self.deployment is not None
                and self.deployment.traffic == frozenset({(self.latest.id, 100.0)}))

    @property
    def undeployed_latest(self) -> VersionFacts | None:
        """The latest version, when it serves no traffic (an upload nobody deployed, or copies a
        stopped run of the plane uploaded and never deployed)."""
        if self.latest is None or self.latest.id in {vid for vid, _ in self.split}:
            return None
        return self.latest

    def describe_split(self) -> str:
        return ", ".join(f"{vid} ({pct:g}%)" for vid, pct in self.split)


def read_live(api: WorkerApi, page: Sequence[VersionFacts] | None = None,
              deployments: Sequence[DeploymentInfo] | None = None) -> LiveState:
    """The Worker as it serves now. `page`: the newest versions, when the caller has just listed them;
    `deployments`: its deployments listing, when the caller has just read it."""
    listing = list(deployments) if deployments is not None else api.deployments()
    deployment = listing[0] if listing else None
    newest = list(page) if page is not None else api.versions()
    versions = {version.id: version for version in newest}
    for version_id in deployment.version_ids if deployment else []:
        if version_id not in versions:
            versions[version_id] = api.version(version_id)
    return LiveState(api.script, deployment, versions, newest[0] if newest else None)
