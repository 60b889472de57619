"""Evaluations (评价, 5.4.3): five levels, voluntary, one per case (or per ticket).

Levels are ours, 5 非常满意 … 1 非常不满意, and are mapped per upstream system in the shell,
never passed through (the national data set counts the other way round). A rating of 2 or
1 is a bad review: it needs at least one reason from the hall's list.
"""

from __future__ import annotations

from controller.config.model import HallConfig
from controller.core import commands as c
from controller.core import events as ev
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import scrub
from controller.core.state import HallState, ReportState, Ticket, TicketStatus

LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})
CHANNELS = ("pad", "keypad", "kiosk", "sms", "qr")
REMOTE_CHANNELS = frozenset({"sms", "qr"})  # rated away from the window, later
FOLLOW_UP_SUFFIX = "#2"  # the key of a case's follow-up evaluation: "case:<no>#2"
MAX_COMMENT = 500
def _ticket_for(state: HallState, cmd: c.Evaluate) -> Ticket:
    if cmd.pad_window is not None:
        last = state.window(cmd.pad_window).last_completed
        if last is None:
            raise Refusal("nothing_to_rate", f"window {cmd.pad_window} has completed no service")
        if cmd.ticket_id is not None and cmd.ticket_id != last:
            raise Refusal("not_this_window", "a pad rates only its own window's last service", 403)
        if cmd.case_no is not None and state.tickets[last].case_no != cmd.case_no:
            raise Refusal("not_this_window", "a pad rates only its own window's last service", 403)
        return state.tickets[last]
    if cmd.ticket_id is not None:
        ticket = state.tickets.get(cmd.ticket_id)
        if ticket is None:
            raise not_found("ticket", f"no ticket {cmd.ticket_id}")
        return ticket
    if cmd.case_no is not None:
        # The services of the case: completed with its number, or the ones the case was
        # accepted for (a ticket completed without the number).
        from controller.core import cases  # it builds on the engine, which builds on this

        case = cases.peek(state).cases.get(cmd.case_no)
        linked = {case.ticket_id, case.pickup_ticket} if case is not None else set()
        found = [t for t in state.tickets.values()
                 if t.status is TicketStatus.COMPLETED
                 and (t.case_no == cmd.case_no or (t.id in linked and not t.case_no))]
        if not found:
            raise not_found("case", f"no completed service with case {cmd.case_no}")
        return max(found, key=lambda t: t.finished_at or 0.0)
    raise invalid("missing_field", "give ticket_id or case_no")


def evaluate(state: HallState, cfg: HallConfig, cmd: c.Evaluate, now: float) -> list[Event]:
    if cmd.level not in LEVELS:
        raise invalid("bad_level", "level is 1 (非常不满意) to 5 (非常满意)")
    if cmd.channel not in CHANNELS:
        raise invalid("bad_channel", f"channel must be one of {', '.join(CHANNELS)}")
    known = {r.code for r in cfg.evaluation_reasons}
    if cmd.level in BAD_LEVELS:
        if not cmd.reasons:
            raise invalid("reason_required", "a rating of 2 or 1 needs at least one reason")
    elif cmd.reasons:
        raise invalid("reasons_only_for_bad", "reasons are given only with a rating of 2 or 1")
    unknown = [r for r in cmd.reasons if r not in known]
    if unknown:
        raise invalid("unknown_reason", f"unknown reason {unknown[0]!r}; known: "
                      + ", ".join(sorted(known)))
    if len(set(cmd.reasons)) != len(cmd.reasons):
        raise invalid("bad_reasons", "a reason is given twice")
    comment = scrub(cmd.comment.strip()) if cmd.comment else None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise invalid("comment_too_long", f"a comment has at most {MAX_COMMENT} characters")
    ticket = _ticket_for(state, cmd)
    if ticket.status is not TicketStatus.COMPLETED:
        raise Refusal("not_served", f"{ticket.number} is {ticket.status.value}: "
                      "only a completed service is rated")
    case_no, key, assess_number = rating_of(state, ticket, cmd.channel,
                                            at_window=cmd.pad_window is not None)
    if key is None:
        raise Refusal("already_evaluated", f"{ticket.number} was rated already "
                      "(one evaluation per case, and one follow-up of a case)")
    if cmd.evaluation_id in state.evaluations:
        raise Refusal("duplicate_evaluation_id", "evaluation id exists already")
    data: dict[str, object] = {
        "evaluation_id": cmd.evaluation_id,
        "key": key,
        "ticket_id": ticket.id,
        "number": ticket.number,
        "category": ticket.category,
        "window": ticket.window,
        "case_no": case_no,
        "item_code": ticket.item_code,
        "level": cmd.level,
        "channel": cmd.channel,
        "reasons": list(cmd.reasons),
        "served_at": ticket.called_at,
        "completed_at": ticket.finished_at,
    }
    if assess_number != 1:
        data["assess_number"] = assess_number  # 追评: the review record's assessNumber
    if comment:
        data["comment"] = comment
    if cmd.anonymous:
        data["anonymous"] = True
    if ticket.credit_code:
        data["credit_code"] = ticket.credit_code  # the applicant was a company
    return [Event(ev.EVALUATION_RECORDED, data)]


def rating_of(state: HallState, ticket: Ticket, channel: str, at_window: bool
              ) -> tuple[str | None, str | None, int]:
    """(case number, key, assess number) a rating of this completed service would be
    recorded under, or a None key when it may not be rated (again). Shared by the engine
    and the keypad's evaluate prompt (devices/manager.py), so they never disagree.

    A case rated once may be rated once more, its follow-up (追评, DOMAIN.md: one first
    evaluation plus at most one follow-up per case): at a later service of the case (the
    pickup), or from afar (SMS, QR code, entered by staff) about the same one. The same
    service rated again at the window (`at_window`: a pad or an evaluator, whatever channel
    it names) is not a follow-up; nor is a ticket without a case rated twice."""
    case_no = ticket.case_no or _case_accepted_for(state, ticket.id)
    key = f"case:{case_no}" if case_no else f"ticket:{ticket.id}"
    if key not in state.evaluated:
        return case_no, key, 1
    first = state.evaluations.get(state.evaluated[key])
    if (case_no is None or first is None or key + FOLLOW_UP_SUFFIX in state.evaluated
            or (first.ticket_id == ticket.id
                and (at_window or channel not in REMOTE_CHANNELS))):
        return case_no, None, 1
    # Reported as the case's second assessment only if its first went up as the case's:
    # one rated before its case was accepted went up under the ticket (no case known), so
    # for the review system this one is the case's first.
    return case_no, key + FOLLOW_UP_SUFFIX, 2 if first.data.get("case_no") == case_no else 1


def _case_accepted_for(state: HallState, ticket_id: str) -> str | None:
    """The case accepted naming this ticket (`case.accepted`'s `ticket_id`), when the clerk
    completed the ticket without its number: the service is still that case's, and one
    case is rated once."""
    from controller.core import cases  # it builds on the engine, which builds on this

    return cases.peek(state).by_ticket.get(ticket_id)


def record_report(state: HallState, cmd: c.RecordReport) -> list[Event]:
    e = state.evaluations.get(cmd.evaluation_id)
    if e is None:
        raise not_found("evaluation", f"no evaluation {cmd.evaluation_id}")
    data: dict[str, object] = {"evaluation_id": e.id, "status": cmd.status}
    if cmd.detail:  # the upstream's answer, in the private column (`events.PRIVATE_KEYS`)
        data["answer"] = cmd.detail[:200]
    kind = ev.EVALUATION_REPORTED if cmd.delivered else ev.EVALUATION_REPORT_PARKED
    return [Event(kind, data)]


def retry_report(state: HallState, cmd: c.RetryReport) -> list[Event]:
    e = state.evaluations.get(cmd.evaluation_id)
    if e is None:
        raise not_found("evaluation", f"no evaluation {cmd.evaluation_id}")
    if e.report is not ReportState.PARKED:
        raise Refusal("not_parked", f"the report is {e.report.value}, not parked")
    return [Event(ev.EVALUATION_REPORT_RETRY, {"evaluation_id": e.id})]
