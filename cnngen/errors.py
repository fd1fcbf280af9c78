"""The one error type cnngen raises for requests it cannot honour.

Every stage (spec validation, arithmetic, solver, rendering of user input)
raises :class:`CnngenError`; the CLI turns it into a single ``Error: ...``
line on stderr and exit status 2.  Keeping one type means callers never have
to guess which exception means "the user asked for something impossible".
"""

from __future__ import annotations


class CnngenError(ValueError):
    """A request cnngen cannot honour, with a message written for the user.

    ``param`` names the option at fault (for example ``--layers``) so that
    tools can point at it; the message itself already names it too.  The
    message is English; ``key`` and ``fields``, where given, let ``--lang ru``
    say it in Russian.
    """

    def __init__(
        self,
        message: str,
        param: str | None = None,
        *,
        key: str | None = None,
        fields: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.param = param
        # A refusal the CLI can say in another language: the key of its message
        # in cnngen.rendering.messages_refusals and the values it names.
        self.key = key
        self.fields = dict(fields or {})


class TemplateBug(RuntimeError):
    """Rendered code that Black cannot parse: a bug in cnngen, not in the input."""


class OutputFailed(CnngenError):
    """The system failed while writing (disk full, file size limit, I/O error): exit status 1.

    Unlike a refused request (exit status 2), the request was fine; nothing
    was written all the same.
    """

    exit_code = 1
