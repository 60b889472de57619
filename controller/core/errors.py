"""Refusals: the hall's rules saying no, with a code a program can act on."""

from __future__ import annotations


class Refusal(Exception):
    """A command that the current state of the hall does not allow.

    `status` is the HTTP status the shell answers with; the core only picks it because
    the distinction (not found / conflict / bad input) is a property of the rule broken.
    """

    def __init__(self, code: str, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def not_found(what: str, detail: str) -> Refusal:
    return Refusal(f"{what}_not_found", detail, 404)


def invalid(code: str, detail: str) -> Refusal:
    return Refusal(code, detail, 400)
