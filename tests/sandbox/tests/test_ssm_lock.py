"""Parameter Store as the deploy lock uses it: of many concurrent creates of one name
without Overwrite, exactly one succeeds and the rest get ParameterAlreadyExists."""

from __future__ import annotations

import threading

import botocore.exceptions

from conftest import Account


def test_concurrent_creates_of_one_parameter_have_exactly_one_winner(account: Account) -> None:
    for round_ in range(5):
        name = f"/opsctl/locks/demo/prod/{round_:010d}"
        barrier = threading.Barrier(20)
        outcomes: list[str] = []

        def create(i: int) -> None:
            ssm = account.client("ssm")
            barrier.wait()
            try:
                ssm.put_parameter(Name=name, Value=f"holder-{i}", Type="String", Overwrite=False)
                outcomes.append(f"won:{i}")
            except botocore.exceptions.ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [o for o in outcomes if o.startswith("won:")]
        assert len(winners) == 1, outcomes
        assert outcomes.count("ParameterAlreadyExists") == 19, outcomes
        value = account.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        assert value == "holder-" + winners[0].split(":")[1]


def test_records_are_listed_by_path_and_deleted(account: Account) -> None:
    ssm = account.client("ssm")
    for n in (1, 2, 3):
        ssm.put_parameter(Name=f"/opsctl/locks/demo/staging/{n:010d}", Value=str(n), Type="String")
    got = ssm.get_parameters_by_path(Path="/opsctl/locks/demo/staging", Recursive=False)
    assert sorted(p["Value"] for p in got["Parameters"]) == ["1", "2", "3"]
    ssm.delete_parameters(Names=[f"/opsctl/locks/demo/staging/{n:010d}" for n in (1, 2)])
    got = ssm.get_parameters_by_path(Path="/opsctl/locks/demo/staging", Recursive=False)
    assert [p["Value"] for p in got["Parameters"]] == ["3"]
