"""ECR image scans as AWS's DescribeImageScanFindings reference describes them.

moto answers DescribeImageScanFindings with ScanNotFoundException until StartImageScan was
called, then always with status COMPLETE and one fixed HIGH finding (or a canned answer
queued through its own API), in one page. Here an image may carry a scan of its own, set
through the control surface (`POST /_sandbox/scan`) or by the seed:

- `none`: never scanned: ScanNotFoundException;
- `in_progress` for N seconds: status IN_PROGRESS, no findings, then COMPLETE (or ACTIVE,
  for enhanced findings) with the findings given;
- `complete`: the findings given, basic (`findings`) and enhanced (`enhancedFindings`),
  with `findingSeverityCounts` over all of them, paginated by `maxResults` (1 to 1000,
  default 100) and `nextToken`;
- `failed`, `unsupported`: status FAILED or UNSUPPORTED_IMAGE with ECR's description.

An image without a scan of its own, in a repository with scan on push, was scanned as it
was pushed and found clean; any other image is left to moto.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult
from moto.ecr.exceptions import InvalidParameterException, ScanNotFoundException
from moto.ecr.models import ecr_backends
from moto.ecr.responses import ECRResponse

STATES = ("complete", "in_progress", "none", "failed", "unsupported")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "UNTRIAGED")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_DESCRIPTIONS = {
    "COMPLETE": "The scan was completed successfully.",
    "ACTIVE": "Continuous scan is selected for image.",
    "IN_PROGRESS": "The scan is in progress.",
    "FAILED": "The scan failed: the image could not be read.",
    "UNSUPPORTED_IMAGE": "The operating system and/or package manager are not supported.",
}

_applied = False
_original = ECRResponse.describe_image_scan_findings


class ScanError(Exception):
    pass


@dataclass
class Scan:
    state: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    enhanced: list[dict[str, Any]] = field(default_factory=list)
    until: float | None = None  # in progress until this time (time.time())
    started: float = field(default_factory=time.time)

    def status(self, now: float) -> str:
        if self.state == "none":
            return "NONE"
        if self.until is not None and now < self.until:
            return "IN_PROGRESS"
        if self.state == "failed":
            return "FAILED"
        if self.state == "unsupported":
            return "UNSUPPORTED_IMAGE"
        return "ACTIVE" if self.enhanced else "COMPLETE"

    def as_json(self, now: float) -> dict[str, Any]:
        left = max(0.0, self.until - now) if self.until is not None else 0.0
        return {"state": self.state, "status": self.status(now), "seconds_left": round(left, 3),
                "findings": len(self.findings), "enhanced_findings": len(self.enhanced)}


def _basic(f: dict[str, Any]) -> dict[str, Any]:
    """A basic scanning finding (ImageScanFinding) from `{name, severity, package, version}`."""
    name = f["name"]
    attributes = [{"key": "package_name", "value": f["package"]}] if f.get("package") else []
    if f.get("version"):
        attributes.append({"key": "package_version", "value": f["version"]})
    return {"name": name, "severity": f["severity"],
            "uri": f"https://cve.mitre.org/cgi-bin/cvename.cgi?name={name}",
            "description": f.get("description", f"{name} (sandbox)"), "attributes": attributes}


def _enhanced(f: dict[str, Any], account: str, region: str, repository: str,
              digest: str) -> dict[str, Any]:
    """An enhanced scanning finding (EnhancedImageScanFinding, as Inspector reports it)."""
    name = f["name"]
    package: dict[str, Any] = {"name": f.get("package", "unknown"), "version": f.get("version", "")}
    if f.get("fixed_in"):
        package["fixedInVersion"] = f["fixed_in"]
    now = datetime.now(timezone.utc)
    return {
        "awsAccountId": account,
        "findingArn": f"arn:aws:inspector2:{region}:{account}:finding/{abs(hash((digest, name))):x}",
        "title": f"{name} - {package['name']}",
        "description": f.get("description", f"{name} (sandbox)"),
        "severity": f["severity"],
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if f.get("fixed_in") else "NO",
        "firstObservedAt": now,
        "lastObservedAt": now,
        "updatedAt": now,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": name,
            "source": "NVD",
            "sourceUrl": f"https://nvd.nist.gov/vuln/detail/{name}",
            "vulnerablePackages": [package],
        },
        "resources": [{"id": f"arn:aws:ecr:{region}:{account}:repository/{repository}/{digest}",
                       "type": "AWS_ECR_CONTAINER_IMAGE"}],
    }


def _check_findings(value: Any, key: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScanError(f"{key} must be a list of {{name, severity, package, version}}")
    out = []
    for f in value:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise ScanError(f"each of {key} needs a name (a CVE id)")
        if f.get("severity") not in SEVERITIES:
            raise ScanError(f"{key}: severity must be one of {', '.join(SEVERITIES)}")
        unknown = set(f) - {"name", "severity", "package", "version", "fixed_in", "description"}
        if unknown:
            raise ScanError(f"{key}: unknown keys: {', '.join(sorted(unknown))}")
        out.append(f)
    return out


def _image(account: str, region: str, repository: str, tag: str) -> Any:
    backend = ecr_backends[account][region]
    repo = backend.repositories.get(repository)
    if repo is None:
        raise ScanError(f"no repository {repository!r} in account {account} ({region})")
    image = next((i for i in repo.images if tag in i.image_tags), None)
    if image is None:
        raise ScanError(f"no image {repository}:{tag} in account {account} ({region})")
    return image


def set_scan(account: str, region: str, repository: str, tag: str, body: dict[str, Any]) -> dict[str, Any]:
    """Gives the image `repository:tag` a scan as `body` says (see the module's docstring)."""
    state = body.get("state", "complete")
    if state not in STATES:
        raise ScanError(f"state must be one of {', '.join(STATES)}")
    seconds = body.get("seconds")
    if state == "in_progress":
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise ScanError("in_progress needs seconds (how long the scan takes), 0 or more")
    elif seconds is not None:
        raise ScanError("seconds is only for state in_progress")
    findings = _check_findings(body.get("findings"), "findings")
    enhanced_in = _check_findings(body.get("enhanced_findings"), "enhanced_findings")
    if state in ("none", "failed", "unsupported") and (findings or enhanced_in):
        raise ScanError(f"a scan that is {state} has no findings")
    image = _image(account, region, repository, tag)
    digest = image.get_image_digest()
    now = time.time()
    scan = Scan(
        state="complete" if state == "in_progress" else state,
        findings=[_basic(f) for f in findings],
        enhanced=[_enhanced(f, account, region, repository, digest) for f in enhanced_in],
        until=now + float(seconds) if state == "in_progress" else None,
        started=now,
    )
    image.opsctl_scan = scan
    return {"repository": repository, "tag": tag, "digest": digest, **scan.as_json(now)}


def get_scan(account: str, region: str, repository: str, tag: str) -> dict[str, Any]:
    image = _image(account, region, repository, tag)
    scan = getattr(image, "opsctl_scan", None)
    base = {"repository": repository, "tag": tag, "digest": image.get_image_digest()}
    if scan is None:
        return {**base, "state": "moto"}
    return {**base, **scan.as_json(time.time())}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        assert text.startswith("offset:")
        return int(text[len("offset:"):])
    except Exception:
        raise InvalidParameterException("Invalid parameter at 'nextToken': the token is not valid")


def _describe(self: ECRResponse) -> ActionResult:
    repository = self._get_param("repositoryName")
    image_id = self._get_param("imageId") or {}
    backend = self.ecr_backend
    repo = backend._get_repository(repository, self._get_param("registryId"))
    image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
    scan = getattr(image, "opsctl_scan", None)
    if scan is None and repo.image_scanning_configuration.get("scanOnPush"):
        scan = Scan(state="complete")  # scanned as it was pushed, and clean
    if scan is None:
        return _original(self)
    page_size = self._get_param("maxResults")
    if page_size is None:
        page_size = DEFAULT_PAGE
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE:
        raise InvalidParameterException(
            f"Invalid parameter at 'maxResults' failed to satisfy constraint: "
            f"'Member must have value between 1 and {MAX_PAGE}'")
    now = time.time()
    status = scan.status(now)
    answer: dict[str, Any] = {
        "registryId": repo.registry_id,
        "repositoryName": repository,
        "imageId": {"imageDigest": image.get_image_digest(), "imageTag": image_id.get("imageTag")
                    or (image.image_tags[0] if image.image_tags else None)},
    }
    if status == "NONE":
        idigest = image_id.get("imageDigest") or "null"
        itag = image_id.get("imageTag") or "null"
        raise ScanNotFoundException(image_id=f"{{imageDigest:'{idigest}', imageTag:'{itag}'}}",
                                    repository_name=repository, registry_id=repo.registry_id)
    answer["imageScanStatus"] = {"status": status, "description": _DESCRIPTIONS[status]}
    if status not in ("COMPLETE", "ACTIVE"):
        return ActionResult(answer)
    start = _offset(self._get_param("nextToken"))
    counts: dict[str, int] = {}
    for f in scan.findings + scan.enhanced:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    completed = datetime.fromtimestamp(scan.until or scan.started, timezone.utc)
    answer["imageScanFindings"] = {
        "imageScanCompletedAt": completed,
        "vulnerabilitySourceUpdatedAt": completed,
        "findingSeverityCounts": counts,
        "findings": scan.findings[start:start + page_size],
        "enhancedFindings": scan.enhanced[start:start + page_size],
    }
    if start + page_size < max(len(scan.findings), len(scan.enhanced)):
        answer["nextToken"] = _token(start + page_size)
    return ActionResult(answer)


def apply() -> None:
    """Installs the patch (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    ECRResponse.describe_image_scan_findings = _describe  # type: ignore[method-assign]
