"""Pages of the compliance app: the organisation's audit log."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.ids import parse_id
from apps.tenancy.permissions import require_scope

from . import selectors, services
from .forms import AuditFilterForm

PAGE_SIZE = 50


def _keyset_page(qs, *, before=None, after=None):
    """One page of events, newest first, by chain sequence (no COUNT over millions of rows).

    `before` pages to older events, `after` back to newer ones. Returns (events, older, newer):
    the cursors of the neighbouring pages, or None where there is none.
    """
    if after is not None:
        rows = list(qs.filter(sequence__gt=after).order_by("sequence")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        events = list(reversed(rows[:PAGE_SIZE]))
        older = events[-1].sequence if events else None
        return events, older, events[0].sequence if events and has_newer else None
    if before is not None:
        qs = qs.filter(sequence__lt=before)
    rows = list(qs.order_by("-sequence")[: PAGE_SIZE + 1])
    events = rows[:PAGE_SIZE]
    older = events[-1].sequence if len(rows) > PAGE_SIZE else None
    newer = events[0].sequence if before is not None and events else None
    return events, older, newer


def audit_log(request, org_slug):
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    form = AuditFilterForm(request.GET or None)
    filters = form.selector_filters() if form.is_bound and form.is_valid() else {}
    qs = selectors.audit_event_list(org=request.org, actor=request.user, **filters)
    events, older, newer = _keyset_page(
        qs, before=parse_id(request.GET.get("before")), after=parse_id(request.GET.get("after"))
    )
    context = {"form": form, "events": events, "older": older, "newer": newer, "filtered": bool(filters)}
    return render(request, "compliance/audit_log.html", context, status=400 if form.errors else 200)


@require_POST
def audit_verify(request, org_slug):
    services.audit_chain_verification_request(org=request.org, actor=request.user)
    messages.success(
        request,
        "Verification started. In a moment its result appears at the top of this log as "
        "audit.chain_verified (intact) or audit.chain_broken (with where it breaks).",
    )
    return redirect("compliance:audit_log", org_slug=request.org.slug)
