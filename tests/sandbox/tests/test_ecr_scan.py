"""ECR image scans as DescribeImageScanFindings answers them: the seed's images scanned on
push and clean; findings, a scan in progress, no scan, a failed one set through the control
surface; basic and enhanced findings paginated with their severity counts."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest

from conftest import Account, ctl


def scan(account: Account, tag: str, **body: object) -> dict:
    status, answer = ctl(account.url, "/_sandbox/scan", {"account_id": account.id, "tag": tag, **body})
    assert status == 200, answer
    return answer


def findings(account: Account, tag: str, **kw: object) -> dict:
    out = account.client("ecr").describe_image_scan_findings(
        repositoryName="users", imageId={"imageTag": tag}, **kw)
    out.pop("ResponseMetadata")
    return out


def test_seeded_images_were_scanned_on_push_and_are_clean(account: Account) -> None:
    repo = account.client("ecr").describe_repositories(repositoryNames=["users"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    out = findings(account, "v1.2.0")
    assert out["imageScanStatus"]["status"] == "COMPLETE"
    assert out["imageScanFindings"]["findings"] == []
    assert out["imageScanFindings"]["findingSeverityCounts"] == {}


def test_findings_are_set_counted_and_paginated(account: Account) -> None:
    basic = [{"name": f"CVE-2024-{n:04d}", "severity": "HIGH" if n < 3 else "LOW",
              "package": "openssl", "version": "3.0.1"} for n in range(5)]
    scan(account, "v1.3.0", findings=basic)
    first = findings(account, "v1.3.0", maxResults=2)
    assert [f["name"] for f in first["imageScanFindings"]["findings"]] == ["CVE-2024-0000", "CVE-2024-0001"]
    assert first["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 3, "LOW": 2}
    attrs = {a["key"]: a["value"] for a in first["imageScanFindings"]["findings"][0]["attributes"]}
    assert attrs == {"package_name": "openssl", "package_version": "3.0.1"}
    names = []
    for page in account.client("ecr").get_paginator("describe_image_scan_findings").paginate(
            repositoryName="users", imageId={"imageTag": "v1.3.0"}, PaginationConfig={"PageSize": 2}):
        names += [f["name"] for f in page["imageScanFindings"]["findings"]]
    assert names == [f["name"] for f in basic]
    # By digest, as opsctl asks, the same scan.
    digest = account.client("ecr").describe_images(
        repositoryName="users", imageIds=[{"imageTag": "v1.3.0"}])["imageDetails"][0]["imageDigest"]
    by_digest = account.client("ecr").describe_image_scan_findings(
        repositoryName="users", imageId={"imageDigest": digest})
    assert by_digest["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 3, "LOW": 2}


def test_enhanced_findings_are_shaped_as_inspector_reports_them(account: Account) -> None:
    scan(account, "v1.2.0", enhanced_findings=[
        {"name": "CVE-2023-4911", "severity": "CRITICAL", "package": "glibc", "version": "2.35",
         "fixed_in": "2.35-0ubuntu3.4"}])
    out = findings(account, "v1.2.0")
    assert out["imageScanStatus"]["status"] == "ACTIVE"
    f = out["imageScanFindings"]["enhancedFindings"][0]
    assert f["severity"] == "CRITICAL"
    details = f["packageVulnerabilityDetails"]
    assert details["vulnerabilityId"] == "CVE-2023-4911"
    assert details["vulnerablePackages"][0] == {
        "name": "glibc", "version": "2.35", "fixedInVersion": "2.35-0ubuntu3.4"}
    assert out["imageScanFindings"]["findingSeverityCounts"] == {"CRITICAL": 1}


def test_a_scan_in_progress_completes_after_its_seconds(account: Account) -> None:
    scan(account, "v1.2.0", state="in_progress", seconds=1.0,
         findings=[{"name": "CVE-2024-0001", "severity": "HIGH"}])
    out = findings(account, "v1.2.0")
    assert out["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert "imageScanFindings" not in out
    time.sleep(1.1)
    out = findings(account, "v1.2.0")
    assert out["imageScanStatus"]["status"] == "COMPLETE"
    assert out["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 1}


def test_no_scan_failed_and_unsupported(account: Account) -> None:
    scan(account, "v1.2.0", state="none")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        findings(account, "v1.2.0")
    assert err.value.response["Error"]["Code"] == "ScanNotFoundException"
    scan(account, "v1.2.0", state="failed")
    assert findings(account, "v1.2.0")["imageScanStatus"]["status"] == "FAILED"
    scan(account, "v1.2.0", state="unsupported")
    assert findings(account, "v1.2.0")["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE"
    status, answer = ctl(account.url, f"/_sandbox/scan?account_id={account.id}&tag=v1.2.0", method="GET")
    assert status == 200 and answer["status"] == "UNSUPPORTED_IMAGE", answer


def test_bad_scan_requests_are_refused(account: Account) -> None:
    for body, says in [
        ({"tag": "v9.9.9"}, "no image users:v9.9.9"),
        ({"tag": "v1.2.0", "state": "done"}, "state must be one of"),
        ({"tag": "v1.2.0", "state": "in_progress"}, "needs seconds"),
        ({"tag": "v1.2.0", "findings": [{"name": "CVE-1", "severity": "SEVERE"}]}, "severity must be"),
        ({"tag": "v1.2.0", "colour": "red"}, "unknown keys: colour"),
    ]:
        status, answer = ctl(account.url, "/_sandbox/scan", {"account_id": account.id, **body})
        assert status == 400 and says in answer["message"], answer
    with pytest.raises(botocore.exceptions.ClientError) as err:
        findings(account, "v1.2.0", maxResults=5000)
    assert err.value.response["Error"]["Code"] in ("InvalidParameterException", "ValidationException")
