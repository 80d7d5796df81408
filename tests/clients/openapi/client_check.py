"""Drives landpatrol through a client generated from the committed OpenAPI document.

    PYTHONPATH=<dir holding landpatrol_client> python client_check.py http://127.0.0.1:PORT

run.sh generates `landpatrol_client` with openapi-python-client from
mobile-api-docs/openapi.json, then runs this: a town officer of 海滨街道 logs in,
lists cases, enters a patrol case in the town, reads it back by id; then the
officer's alert stream (Server-Sent Events) must carry the alert of that case in
the shape the served document gives. Each step is asserted; any failure exits 1.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import httpx
import jsonschema_rs

from landpatrol_client import AuthenticatedClient, Client
from landpatrol_client.api.auth import login as login_api
from landpatrol_client.api.cases import create as create_case
from landpatrol_client.api.cases import get as get_case
from landpatrol_client.api.cases import list_ as list_cases
from landpatrol_client.models import (
    CaseDetail,
    CasePage,
    CaseSource,
    CaseView,
    Crs,
    GeoPoint,
    LoginRequest,
    NewCase,
    TokenPair,
    ViolationType,
)

TOWN = "120115001"  # 海滨街道
USER = "officer-" + TOWN
PASSWORD = "landpatrol-demo"

steps: list[str] = []


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)
    steps.append(what)
    print(f"ok   {what}")


def read_alert_event(base: str, token: str, case_id: str, timeout: float = 30.0) -> dict:
    """The first `event: alert` of the stream about `case_id` (Last-Event-ID 0: from the start)."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": "0", "Accept": "text/event-stream"}
    with httpx.stream("GET", f"{base}/api/v1/alerts/stream", headers=headers, timeout=timeout) as resp:
        check(resp.status_code == 200, f"GET /alerts/stream answers 200 (got {resp.status_code})")
        ctype = resp.headers.get("content-type", "")
        check(ctype.startswith("text/event-stream"), f"the stream is text/event-stream (got {ctype!r})")
        event: dict = {}
        for line in resp.iter_lines():
            if time.monotonic() > deadline:
                break
            if line == "":
                if event.get("event") == "alert" and json.loads(event.get("data", "{}")).get("case_id") == case_id:
                    return event
                event = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"] = event["data"] + "\n" + value if "data" in event else value
            elif field in ("id", "event"):
                event[field] = value
            elif field == "retry":
                event[field] = int(value)
    raise AssertionError(f"no alert about case {case_id} on the stream within {timeout} s")


def main(base: str) -> int:
    doc = httpx.get(f"{base}/api/v1/openapi.json", timeout=30).json()

    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    resp = login_api.sync_detailed(client=anonymous, body=LoginRequest(username=USER, password=PASSWORD))
    check(resp.status_code == 200 and isinstance(resp.parsed, TokenPair), f"log in as {USER} (200, TokenPair)")
    pair = resp.parsed
    check(pair.user.username == USER and pair.user.role.value == "town_officer", "the answer names the town officer")
    client = AuthenticatedClient(base_url=base, token=pair.access_token, raise_on_unexpected_status=True)

    resp = list_cases.sync_detailed(client=client, limit=50)
    check(resp.status_code == 200 and isinstance(resp.parsed, CasePage), "list cases (200, CasePage)")
    before = resp.parsed.items
    check(all(c.town is not None and c.town.code == TOWN for c in before), f"every listed case is in town {TOWN}")

    new = NewCase(
        id=uuid.uuid4(),
        source=CaseSource.PATROL,
        location=GeoPoint(lon=117.2951, lat=39.7335, crs=Crs.WGS84, accuracy_m=6.0),
        description="新建彩钢房约200平方米 (generated-client check)",
        address="北台村东",
        violation_type=ViolationType.BUILT_WITHOUT_APPROVAL,
    )
    resp = create_case.sync_detailed(client=client, body=new)
    check(resp.status_code == 201 and isinstance(resp.parsed, CaseView), f"create a patrol case (201, CaseView; got {resp.status_code})")
    created = resp.parsed
    check(str(created.id) == str(new.id), "the case keeps the client-made id")
    check(created.town is not None and created.town.code == TOWN, f"the case is routed to {TOWN}")
    check(created.source == CaseSource.PATROL and created.status.value == "reported", "a reported patrol case")
    check(created.case_number.startswith("BD-"), f"it has a case number ({created.case_number})")

    resp = create_case.sync_detailed(client=client, body=new)
    check(resp.status_code == 200 and isinstance(resp.parsed, CaseView), "the same create again answers 200 with the case")

    resp = get_case.sync_detailed(client=client, id=created.id)
    check(resp.status_code == 200 and isinstance(resp.parsed, CaseDetail), "read it back by id (200, CaseDetail)")
    got = resp.parsed
    check(str(got.id) == str(created.id) and got.case_number == created.case_number, "the same case comes back")
    check(abs(got.location.lon - 117.2951) < 1e-6 and abs(got.location.lat - 39.7335) < 1e-6, "at the point sent")
    check(len(got.history) >= 1 and got.history[0].action == "created", "its ledger starts with `created`")

    resp = get_case.sync_detailed(client=client, id=uuid.uuid4())
    check(resp.status_code == 404, "an unknown case id answers 404 (ErrorBody)")

    resp = list_cases.sync_detailed(client=client, limit=500)
    check(any(str(c.id) == str(created.id) for c in resp.parsed.items), "the new case is listed")

    # The live stream: the alert of the new case, in the documented shape.
    event = read_alert_event(base, pair.access_token, str(created.id))
    op = doc["paths"]["/api/v1/alerts/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    event_schema = dict(op["schema"], components=doc["components"])
    check(jsonschema_rs.validator_for(event_schema).is_valid(event), f"the event matches the stream's schema ({event['id']})")
    alert = json.loads(event["data"])
    alert_schema = {"$ref": "#/components/schemas/AlertView", "components": doc["components"]}
    errors = [e.message for e in jsonschema_rs.validator_for(alert_schema).iter_errors(alert)]
    check(not errors, f"its data is an AlertView {errors}")
    check(alert["kind"] == "case_new" and str(alert["event_id"]) == event["id"], "a case_new alert with its event id")

    print(f"generated client: {len(steps)} checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1].rstrip("/")))
    except Exception as exc:  # noqa: BLE001 - any failure fails the check
        print(f"FAIL {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
