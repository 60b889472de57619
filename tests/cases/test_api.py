"""A citizen from item choice to evaluation and pickup, over real HTTP against the demo
hall's daemon, with the reference cloud as the provincial review system; the refusals of
the evaluation API; cases, follow-ups and complaints through their routes."""

from __future__ import annotations

from typing import Any

from controller.cloudsim.server import CloudSim
from tests.conftest import Api
from tests.sync.conftest import wait_until

PROMISED = "330100-BDC-01-002"  # 国有建设用地使用权及房屋所有权转移登记: 3 working days
INSTANT = "330100-GJJ-001"  # 住房公积金提取（租房）


async def ok(api: Api, method: str, path: str, token: str | None, body: Any = None,
             status: int = 200) -> Any:
    got, answer = await api.call(method, path, token, body)
    assert got == status, (path, got, answer)
    return answer


async def test_from_item_choice_to_follow_up_and_pickup(reporting_hall: Api,
                                                        review_cloud: CloudSim) -> None:
    api, t = reporting_hall, reporting_hall.tokens
    # The kiosk: search by pinyin initials, read the item, take a ticket by item.
    found = await ok(api, "GET", "/api/items?q=gyjsyd", None)
    assert PROMISED in [i["code"] for i in found["items"]]
    item = await ok(api, "GET", f"/api/items/{PROMISED}", t.kiosk)
    assert item["case_type"] == "promised" and item["promised_days"] == 3
    assert [m["name"] for m in item["materials"] if m["may_follow"]] == ["完税凭证"]
    assert item["path"][0]["name"] == "不动产登记"
    ticket = await ok(api, "POST", "/api/tickets", t.kiosk, {"item_code": PROMISED},
                      status=201)
    assert ticket["category"] == "A" and ticket["item_code"] == PROMISED
    # Window 1 serves it and accepts the case with a material to follow (容缺受理).
    await api.window(1, "open", token=t.clerk[1])
    called = await api.window(1, "call-next", token=t.clerk[1])
    assert called[1]["ticket"]["id"] == ticket["id"]
    case_no = "330100202611270101"
    case = await ok(api, "POST", "/api/cases", t.clerk[1],
                    {"case_no": case_no, "missing": ["完税凭证"]}, status=201)
    assert case["ticket_id"] == ticket["id"] and case["item_code"] == PROMISED
    assert case["missing"] == ["完税凭证"] and case["due_date"] and case["missing_due"]
    status, done = await api.window(1, "complete", {"case_no": case_no}, token=t.clerk[1])
    assert status == 200 and done["ticket"]["case_no"] == case_no
    assert done["ticket"]["item_code"] == PROMISED
    # The pad of window 1 rates it 2 with a reason.
    rated = await ok(api, "POST", "/api/evaluations", t.pad[1],
                     {"level": 2, "reasons": ["E04"], "comment": "材料要求讲不清"}, status=201)
    assert rated["case_no"] == case_no and rated["item_code"] == PROMISED
    # The alert and the follow-up, for the dashboard.
    opened = await ok(api, "GET", "/api/follow-ups?status=open", t.supervisor)
    [f] = opened["follow_ups"]
    assert (f["evaluation_id"], f["level"], f["next_step"]) == (rated["id"], 2, "verify")
    assert f["window"] == 1 and f["case_no"] == case_no and f["reasons"] == ["E04"]
    board = await ok(api, "GET", "/api/supervision", t.supervisor)
    assert [x["id"] for x in board["open_follow_ups"]] == [f["id"]]
    events = await ok(api, "GET", "/api/events?after=0&limit=1000", t.supervisor)
    assert "followup.opened" in [e["type"] for e in events["events"]]  # up to the cloud too
    # Out of order, then the four steps.
    got, err = await api.call("POST", f"/api/follow-ups/{f['id']}/close", t.supervisor,
                              {"note": "办结"})
    assert (got, err["error"]) == (409, "step_out_of_order")
    for step in ("verify", "rectify", "revisit", "close"):
        f = await ok(api, "POST", f"/api/follow-ups/{f['id']}/{step}", t.supervisor,
                     {"note": f"{step} 已完成"})
    assert f["status"] == "closed" and [s["step"] for s in f["steps"]] == [
        "verify", "rectify", "revisit", "close"]
    assert all(s["by"]["role"] == "supervisor" and not s["late"] for s in f["steps"])
    # The review system got the evaluation with every mapped field from its source.
    await wait_until(lambda: rated["id"] in review_cloud.evaluations, 20, "the report")
    r = review_cloud.evaluations[rated["id"]]
    assert r["taskCode"] == PROMISED and r["taskName"] == item["name"]
    assert r["subMatter"] == "不动产登记"
    assert r["promiseTime"] == "1" and r["proStatus"] == "2"  # 承诺件, still in progress
    assert r["projectNo"] == case_no and r["satisfaction"] == "2" and r["evalDetail"] == "E04"
    assert r["pf"] == "4" and r["proManager"] == "1号窗口 综合受理"
    assert r["writingEvaluation"] == "材料要求讲不清"
    assert r["areaCode"] == "330100" and r["deptCode"] == "11330100MB0000000X"
    assert r["acceptDate"] and r["assessTime"] and r["dataSource"] == "133"
    assert r["certkeyGOV"] == "" and r["userProp"] == "1" and r["assessNumber"] == "1"
    assert review_cloud.bad_signatures == 0
    # The case on to pickup: approval waits for the missing material.
    got, err = await api.call("POST", f"/api/cases/{case_no}/approve", t.clerk[1], {})
    assert (got, err["error"]) == (409, "materials_missing")
    await ok(api, "POST", f"/api/cases/{case_no}/supply", t.clerk[1],
             {"materials": ["完税凭证"]})
    await ok(api, "POST", f"/api/cases/{case_no}/circulate", t.clerk[1], {})
    circulating = await ok(api, "GET", "/api/cases?status=circulating", t.clerk[2])
    assert [(x["case_no"], x["circulation"]) for x in circulating["cases"]] == [
        (case_no, "to_back_office")]
    await ok(api, "POST", f"/api/cases/{case_no}/approve", t.supervisor, {"note": "审核通过"})
    ready = await ok(api, "POST", f"/api/cases/{case_no}/ready", t.supervisor, {})
    assert ready["pickup_at"] == "pickup_area"
    listed = await ok(api, "GET", "/api/cases?status=ready", t.clerk[1])
    assert [x["case_no"] for x in listed["cases"]] == [case_no]
    # The citizen comes back with the case number: a pickup ticket in 出件 (H).
    pickup = await ok(api, "POST", f"/api/cases/{case_no}/pickup-ticket", t.kiosk,
                      status=201)
    assert pickup["category"] == "H" and pickup["number"] == "H001"
    got, err = await api.call("POST", f"/api/cases/{case_no}/pickup-ticket", t.kiosk)
    assert (got, err["error"]) == (409, "pickup_ticket_exists")
    await api.window(15, "open", token=t.clerk[15])
    called = await api.window(15, "call-next", token=t.clerk[15])
    assert called[1]["ticket"]["id"] == pickup["id"]
    handed = await ok(api, "POST", f"/api/cases/{case_no}/pick-up", t.clerk[15],
                      {"note": "本人领取"})
    assert handed["status"] == "picked_up"
    assert handed["history"][-1]["by"] == {"token": handed["history"][-1]["by"]["token"],
                                           "role": "clerk", "window": 15}
    # Anyone with a token (the kiosk) can see where a case stands.
    seen = await ok(api, "GET", f"/api/cases/{case_no}", t.kiosk)
    assert seen["status"] == "picked_up"


async def _served(api: Api, window: int = 1, item: str = INSTANT) -> dict[str, Any]:
    t = api.tokens
    ticket = await ok(api, "POST", "/api/tickets", t.kiosk, {"item_code": item}, status=201)
    await api.window(window, "open")
    _, body = await api.window(window, "call-next")
    assert body["ticket"]["id"] == ticket["id"]
    await api.window(window, "complete")
    return ticket


async def test_evaluation_refusals_are_clear_4xx(hall: Api) -> None:
    api, t = hall, hall.tokens
    await api.window(2, "open")
    first = await _served(api, 1, "330100-BDC-03")
    for level in (0, 6, -1):
        got, err = await api.call("POST", "/api/evaluations", t.pad[1], {"level": level})
        assert (got, err["error"]) == (400, "bad_level"), level
    got, err = await api.call("POST", "/api/evaluations", t.pad[1], {"level": "5"})
    assert (got, err["error"]) == (400, "bad_field")
    got, err = await api.call("POST", "/api/evaluations", t.pad[1], {"level": 1})
    assert (got, err["error"]) == (400, "reason_required")
    got, err = await api.call("POST", "/api/evaluations", t.pad[1],
                              {"level": 2, "reasons": ["E99"]})
    assert (got, err["error"]) == (400, "unknown_reason")
    # A pad rates only its own window's last service.
    got, err = await api.call("POST", "/api/evaluations", t.pad[2],
                              {"level": 5, "ticket_id": first["id"]})
    assert (got, err["error"]) == (409, "nothing_to_rate")  # window 2 served no one
    await _served(api, 2, "330100-BDC-03")
    got, err = await api.call("POST", "/api/evaluations", t.pad[2],
                              {"level": 5, "ticket_id": first["id"]})
    assert (got, err["error"]) == (403, "not_this_window")
    await ok(api, "POST", "/api/evaluations", t.pad[1], {"level": 5}, status=201)
    got, err = await api.call("POST", "/api/evaluations", t.pad[1], {"level": 4})
    assert (got, err["error"]) == (409, "already_evaluated")
    got, err = await api.call("POST", "/api/evaluations", t.supervisor,
                              {"level": 3, "ticket_id": first["id"], "channel": "qr"})
    assert (got, err["error"]) == (409, "already_evaluated")  # by another channel too
    # A device rates as what it is: a pad or a kiosk cannot say the rating came by QR.
    for token, channel in ((t.pad[1], "qr"), (t.kiosk, "sms"), (t.pad[1], "kiosk")):
        got, err = await api.call("POST", "/api/evaluations", token,
                                  {"level": 3, "ticket_id": first["id"], "channel": channel})
        assert (got, err["error"]) == (403, "wrong_channel"), channel
    # A good rating opens no follow-up.
    listed = await ok(api, "GET", "/api/follow-ups", t.supervisor)
    assert listed["follow_ups"] == []


async def test_items_and_tickets_by_item_refusals(hall: Api) -> None:
    api, t = hall, hall.tokens
    got, err = await api.call("POST", "/api/tickets", t.kiosk, {})
    assert (got, err["error"]) == (400, "missing_field")
    got, err = await api.call("POST", "/api/tickets", t.kiosk, {"item_code": "NOPE"})
    assert (got, err["error"]) == (404, "item_not_found")
    got, err = await api.call("POST", "/api/tickets", t.kiosk, {"item_code": "330100-BDC"})
    assert (got, err["error"]) == (400, "item_not_servable")
    got, err = await api.call("POST", "/api/tickets", t.kiosk,
                              {"item_code": INSTANT, "category": "A"})
    assert (got, err["error"]) == (400, "category_mismatch")
    got, err = await api.call("GET", "/api/items?category=Q", None)
    assert (got, err["error"]) == (400, "bad_query")
    got, err = await api.call("GET", "/api/items/NOPE", t.kiosk)
    assert got == 404
    by_category = await ok(api, "GET", "/api/items?category=F&limit=2", None)
    assert len(by_category["items"]) == 2 and by_category["catalog_version"] == 0
    got, err = await api.call("GET", "/api/cases", t.kiosk)
    assert got == 403
    got, err = await api.call("POST", "/api/cases", t.clerk[1], {"case_no": "X-1"})
    assert (got, err["error"]) == (400, "item_required")  # window 1 served nothing
    got, err = await api.call("POST", "/api/cases/NOPE/pickup-ticket", t.kiosk)
    assert (got, err["error"]) == (404, "case_not_found")


async def test_an_instant_case_is_handed_over_at_the_window(hall: Api) -> None:
    api, t = hall, hall.tokens
    await _served(api, 1, "330100-SS-01-002")  # 个体工商户设立登记: instant
    case = await ok(api, "POST", "/api/cases", t.clerk[1], {"case_no": "INSTANT-1"},
                    status=201)
    assert case["case_type_name"] == "即办件" and case["due_date"] is None
    await ok(api, "POST", "/api/cases/INSTANT-1/approve", t.clerk[1], {})
    done = await ok(api, "POST", "/api/cases/INSTANT-1/pick-up", t.clerk[1], {})
    assert done["status"] == "picked_up"
    got, err = await api.call("POST", "/api/cases/INSTANT-1/pickup-ticket", t.kiosk)
    assert (got, err["error"]) == (409, "not_ready")


async def test_complaints_from_console_to_closure(hall: Api) -> None:
    api, t = hall, hall.tokens
    ticket = await _served(api, 1, "330100-BDC-03")
    got, err = await api.call("POST", "/api/complaints", t.clerk[1],
                              {"channel": "fax", "summary": "x"})
    assert (got, err["error"]) == (400, "bad_field")
    made = await ok(api, "POST", "/api/complaints", t.clerk[1], {
        "channel": "on_site", "summary": "说好最多跑一次，今天第三次来，电话13800138000",
        "ticket_id": ticket["id"]}, status=201)
    assert made["window"] == 1 and made["channel_name"] == "现场"
    assert "13800138000" not in made["summary"] and made["deadline"]
    got, err = await api.call("POST", f"/api/complaints/{made['id']}/assign", t.clerk[1],
                              {"to": "督查科"})
    assert got == 403  # a clerk registers; supervisors handle
    got, err = await api.call("POST", f"/api/complaints/{made['id']}/close", t.supervisor,
                              {"note": "x"})
    assert (got, err["error"]) == (409, "bad_complaint_state")
    await ok(api, "POST", f"/api/complaints/{made['id']}/assign", t.supervisor,
             {"to": "督查科 王科长"})
    await ok(api, "POST", f"/api/complaints/{made['id']}/resolve", t.supervisor,
             {"result": "已协调当场办结并致歉"})
    closed = await ok(api, "POST", f"/api/complaints/{made['id']}/close", t.supervisor,
                      {"note": "回访满意"})
    assert closed["status"] == "closed" and closed["assignee"] == "督查科 王科长"
    assert [h["event"] for h in closed["history"]] == ["registered", "assigned", "resolved",
                                                       "closed"]
    listed = await ok(api, "GET", "/api/complaints?status=open", t.supervisor)
    assert listed["complaints"] == []


async def test_notes_and_reasons_people_type_are_scrubbed(hall: Api) -> None:
    """Staff type free text (a case note, a pause reason); a phone or an ID number typed
    into it is masked before it is stored, and the kiosk's view of a case has no notes."""
    t = hall.tokens
    await hall.issue("A")
    await hall.window(1, "open", token=t.clerk[1])
    await hall.window(1, "call-next", token=t.clerk[1])
    case_no = "330100202611270199"
    await ok(hall, "POST", "/api/cases", t.clerk[1], {"case_no": case_no,
                                                      "item_code": INSTANT}, status=201)
    await ok(hall, "POST", f"/api/cases/{case_no}/circulate", t.clerk[1],
             {"note": "申请人回电 139 1234 5678, 身份证11010519491231002X"})
    staff = await ok(hall, "GET", f"/api/cases/{case_no}", t.supervisor)
    notes = [h["note"] for h in staff["history"] if "note" in h]
    assert notes == ["申请人回电 1*********8, 身份证1****************X"]
    kiosk = await ok(hall, "GET", f"/api/cases/{case_no}", t.kiosk)
    assert kiosk["status"] == "circulating"
    assert all("note" not in h for h in kiosk["history"])
    await hall.window(1, "complete", {"case_no": case_no}, token=t.clerk[1])
    status, _ = await hall.window(1, "pause", {"reason": "去取材料 13912345678"},
                                  token=t.clerk[1])
    assert status == 200
    windows = await ok(hall, "GET", "/api/windows", None)
    [one] = [w for w in windows["windows"] if w["number"] == 1]
    assert "13912345678" not in str(one) and "1*********8" in str(one)
    log = await ok(hall, "GET", "/api/events?after=0&limit=1000", t.supervisor)
    assert "13912345678" not in str(log) and "1234 5678" not in str(log)


async def test_anonymous_is_true_or_false(hall: Api) -> None:
    t = hall.tokens
    await hall.issue("A")
    await hall.window(1, "open", token=t.clerk[1])
    await hall.window(1, "call-next", token=t.clerk[1])
    await hall.window(1, "complete", token=t.clerk[1])
    got, err = await hall.call("POST", "/api/evaluations", t.pad[1],
                               {"level": 5, "anonymous": "yes"})
    assert (got, err["error"]) == (400, "bad_field") and "true or false" in err["detail"]
    rated = await ok(hall, "POST", "/api/evaluations", t.pad[1],
                     {"level": 5, "anonymous": False}, status=201)
    assert rated["anonymous"] is False


async def test_a_pad_that_reconnects_asks_what_it_may_offer(hall: Api, monkeypatch: Any) -> None:
    """GET /api/evaluations/pending: the window's last service while it ended recently and
    may still be rated there, for a pad whose link was down when the stream told of it."""
    from controller.web import api_evaluations

    t = hall.tokens
    assert (await ok(hall, "GET", "/api/evaluations/pending", t.pad[1]))["pending"] is None
    ticket = await hall.issue("A")
    await hall.window(1, "open", token=t.clerk[1])
    await hall.window(1, "call-next", token=t.clerk[1])
    await hall.window(1, "complete", token=t.clerk[1])
    pending = (await ok(hall, "GET", "/api/evaluations/pending", t.pad[1]))["pending"]
    assert (pending["ticket_id"], pending["number"]) == (ticket["id"], ticket["number"])
    assert (await ok(hall, "GET", "/api/evaluations/pending", t.pad[2]))["pending"] is None
    for token in (t.kiosk, t.clerk[1], t.supervisor):
        got, err = await hall.call("GET", "/api/evaluations/pending", token)
        assert got == 403, err
    monkeypatch.setattr(api_evaluations, "PENDING_S", 0.0)  # long past: the next citizen's turn
    assert (await ok(hall, "GET", "/api/evaluations/pending", t.pad[1]))["pending"] is None
    monkeypatch.undo()
    await ok(hall, "POST", "/api/evaluations", t.pad[1], {"level": 5}, status=201)
    assert (await ok(hall, "GET", "/api/evaluations/pending", t.pad[1]))["pending"] is None
