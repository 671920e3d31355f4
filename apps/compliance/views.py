"""Pages of the compliance app: the organisation's audit log and the compliance officer's console."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ConflictError
from apps.core.forms import add_service_errors
from apps.core.ids import parse_id
from apps.storage.http import content_disposition
from apps.tenancy.permissions import require_scope

from . import console, gdpr, reports, selectors, services, signing
from .exports import audit_export_create, open_and_forget
from .forms import (
    AccessReportForm,
    AuditExportForm,
    AuditFilterForm,
    GdprRejectForm,
    GdprRequestForm,
    GdprRunForm,
    GdprVerifyForm,
)

PAGE_SIZE = 50


def _keyset_page(qs, *, before=None, after=None):
    """One page of events, newest first, by id (no COUNT over millions of rows).

    `before` pages to older events, `after` back to newer ones. Returns (events, older, newer):
    the cursors of the neighbouring pages, or None where there is none.
    """
    if after is not None:
        rows = list(qs.filter(pk__gt=after).order_by("pk")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        events = list(reversed(rows[:PAGE_SIZE]))
        older = events[-1].pk if events else None
        return events, older, events[0].pk if events and has_newer else None
    if before is not None:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-pk")[: PAGE_SIZE + 1])
    events = rows[:PAGE_SIZE]
    older = events[-1].pk if len(rows) > PAGE_SIZE else None
    newer = events[0].pk if before is not None and events else None
    return events, older, newer


def audit_log(request, org_slug):
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    form = AuditFilterForm(request.GET or None, datasets=console.console_dataset_list(org=request.org))
    filters = form.selector_filters() if form.is_bound and form.is_valid() else {}
    qs = console.audit_event_search(org=request.org, actor=request.user, **filters)
    events, older, newer = _keyset_page(
        qs, before=parse_id(request.GET.get("before")), after=parse_id(request.GET.get("after"))
    )
    context = {"form": form, "events": events, "older": older, "newer": newer, "filtered": bool(filters),
               **_export_context(AuditExportForm(prefix="export"))}
    return render(request, "compliance/audit_log.html", context, status=400 if form.errors else 200)


def _export_context(export_form: AuditExportForm) -> dict:
    return {"export_form": export_form, "signing_fingerprint": signing.public_key_fingerprint(),
            "signing_configured": signing.is_configured()}


@require_GET
def audit_export(request, org_slug):
    """The signed zip of a period; with a bad period, the log again with the reason beside the field."""
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    export_form = AuditExportForm(request.GET, prefix="export")
    if export_form.is_valid():
        try:
            export = audit_export_create(org=request.org, actor=request.user, **dict(zip(
                ("since", "until"), export_form.period(), strict=True)))
        except ValidationError as error:
            for message in error.messages:
                export_form.add_error(None, message)
        else:
            response = FileResponse(open_and_forget(export), content_type="application/zip")
            response["Content-Disposition"] = content_disposition(export.filename, inline=False)
            return response
    events, older, newer = _keyset_page(selectors.audit_event_list(org=request.org, actor=request.user))
    context = {"form": AuditFilterForm(datasets=console.console_dataset_list(org=request.org)), "events": events,
               "older": older, "newer": newer, "filtered": False,
               **_export_context(export_form)}
    return render(request, "compliance/audit_log.html", context, status=400)


@require_POST
def audit_verify(request, org_slug):
    services.audit_chain_verification_request(org=request.org, actor=request.user)
    messages.success(
        request,
        "Verification started. In a moment its result appears at the top of this log as "
        "audit.chain_verified (intact) or audit.chain_broken (with where it breaks).",
    )
    return redirect("compliance:audit_log", org_slug=request.org.slug)


@require_GET
def audit_object_history(request, org_slug, target_type, target_id):
    """Everything recorded about one object ("who saw item X"), newest first."""
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    qs = console.audit_event_search(org=request.org, actor=request.user, target_type=target_type,
                                    target_id=target_id)
    events, older, newer = _keyset_page(
        qs, before=parse_id(request.GET.get("before")), after=parse_id(request.GET.get("after")))
    context = {"events": events, "older": older, "newer": newer, "target_type": target_type, "target_id": target_id,
               "label": console.object_label(org=request.org, target_type=target_type, target_id=target_id)}
    return render(request, "compliance/object_history.html", context)


@require_GET
def audit_person_history(request, org_slug, user_id):
    """Everything one person did in this organisation ("what did user Y touch"), newest first."""
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    if parse_id(user_id) is None:
        raise Http404("Not found.")
    qs = console.audit_event_search(org=request.org, actor=request.user, actor_id=user_id)
    events, older, newer = _keyset_page(
        qs, before=parse_id(request.GET.get("before")), after=parse_id(request.GET.get("after")))
    context = {"events": events, "older": older, "newer": newer, "person_id": user_id,
               "label": console.person_label(org=request.org, user_id=user_id)}
    return render(request, "compliance/person_history.html", context)


@require_GET
def access_report(request, org_slug):
    """Who read a dataset's data in a period, per day and person; `?format=csv` downloads it (audited)."""
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    datasets = list(console.console_dataset_list(org=request.org))
    form = AccessReportForm(request.GET or None, datasets=datasets)
    rows, dataset = None, None
    if form.is_bound and form.is_valid():
        dataset = next(d for d in datasets if d.pk == form.cleaned_data["dataset"])
        since, until = form.period()
        if request.GET.get("format") == "csv":
            content, filename = reports.access_report_csv(org=request.org, actor=request.user, dataset=dataset,
                                                          since=since, until=until)
            response = HttpResponse(content, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = content_disposition(filename, inline=False)
            return response
        rows = console.dataset_access_report(org=request.org, dataset_id=dataset.pk, since=since, until=until)
    context = {"form": form, "rows": rows, "dataset": dataset,
               "people": len({(r.user_id, r.person) for r in rows or ()}),
               "reads": sum(r.events for r in rows or ())}
    return render(request, "compliance/access_report.html", context, status=400 if form.errors else 200)


@require_GET
def processing_register(request, org_slug):
    """The record of processing activities (GDPR art. 30), generated from configuration."""
    require_scope(org=request.org, actor=request.user, scope="audit.view")
    return render(request, "compliance/processing_register.html",
                  {"register": console.processing_register(org=request.org)})


@require_GET
def residency(request, org_slug):
    """Where each kind of the organisation's data lives, any object found outside its region, and the recorded
    legal bases for copies in other regions."""
    from .transfer_views import residency_page

    require_scope(org=request.org, actor=request.user, scope="audit.view")
    return residency_page(request)


# --- GDPR data-subject requests (owners and compliance officers: gdpr.manage) ------------------------------

GDPR_PER_PAGE = 50
GDPR_CLOSED = ("done", "rejected")
# A verified request runs; so does one whose run failed (once its cause, such as a legal hold, is gone).
GDPR_RUNNABLE = tuple(s for s in ("verified", "failed") if s in gdpr.Status.values)
# action -> (form, service, what the page says once it is done); the form's prefix is the action
GDPR_TRANSITIONS = {
    "verify": (GdprVerifyForm, gdpr.gdpr_request_verify,
               "Identity verified. Run the request when you are ready."),
    "reject": (GdprRejectForm, gdpr.gdpr_request_reject, "Request rejected."),
    "run": (GdprRunForm, gdpr.gdpr_request_run,
            "The request is running in the background: its status turns to done when it has finished."),
}


def _is_overdue(dsr, now) -> bool:
    return dsr.status not in GDPR_CLOSED and dsr.due_at < now


@require_http_methods(["GET", "POST"])
def gdpr_requests(request, org_slug):
    """The organisation's data-subject requests, newest first (overdue ones marked), and the form to file one."""
    require_scope(org=request.org, actor=request.user, scope=gdpr.SCOPE)
    form = GdprRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            created = gdpr.gdpr_request_create(org=request.org, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Request {created.pk} recorded, due {created.due_at:%Y-%m-%d}. "
                                      "Verify the requester's identity next.")
            return redirect("compliance:gdpr_request", org_slug=request.org.slug, request_id=created.pk)
    wanted = request.GET.get("status", "")
    wanted = wanted if wanted in gdpr.Status.values else ""
    page = Paginator(gdpr.gdpr_request_list(org=request.org, status=wanted).select_related("requested_by"),
                     GDPR_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    for dsr in page.object_list:
        dsr.overdue = _is_overdue(dsr, now)
    context = {"form": form, "page": page, "wanted": wanted, "statuses": gdpr.Status.choices}
    return render(request, "compliance/gdpr_list.html", context, status=400 if form.errors else 200)


def _certificate_view(dsr) -> dict:
    """What the detail page shows of an erasure's certificate (the signed body lives in result.certificate)."""
    signed = (dsr.result or {}).get("certificate") or {}
    body = signed.get("certificate") or {}
    return {"not_erased": [str(entry) for entry in body.get("not_erased") or []],
            "fingerprint": signed.get("public_key_fingerprint_sha256", "")}


def _lifecycle(dsr) -> list[dict]:
    """received -> verified -> in_progress -> done, or rejected (before it runs) or failed (when run, to be run
    again): each step, whether it was reached, when and by whom."""
    order = [gdpr.Status.RECEIVED, gdpr.Status.VERIFIED, gdpr.Status.IN_PROGRESS, gdpr.Status.DONE]
    facts = {
        gdpr.Status.RECEIVED: (dsr.received_at, dsr.requested_by),
        gdpr.Status.VERIFIED: (dsr.verified_at, dsr.verified_by),
        gdpr.Status.IN_PROGRESS: (None, dsr.run_by),
        gdpr.Status.DONE: (dsr.finished_at, None),
    }
    if dsr.status in order:
        shown, reached, last = order, order.index(dsr.status) + 1, None
    elif dsr.status == gdpr.Status.REJECTED:
        reached = 2 if dsr.verified_at else 1
        shown, last = order[:reached], {"note": (dsr.result or {}).get("rejected_because", "")}
    else:  # failed when it ran: it may be run again
        shown, reached, last = order[:3], 3, {"note": dsr.error}
    steps = [{"label": gdpr.Status(s).label, "reached": i < reached, "current": s == dsr.status,
              "at": facts[s][0], "by": facts[s][1]} for i, s in enumerate(shown)]
    if last is not None:
        steps.append({"label": dsr.get_status_display(), "reached": True, "current": True, "at": dsr.finished_at,
                      "by": None, **last})
    return steps


def _render_gdpr_detail(request, dsr, *, forms=None, error="", status=200):
    forms = forms or {}
    context = {
        "dsr": dsr, "overdue": _is_overdue(dsr, timezone.now()), "error": error, "steps": _lifecycle(dsr),
        "verify_form": forms.get("verify") or GdprVerifyForm(prefix="verify"),
        "reject_form": forms.get("reject") or GdprRejectForm(prefix="reject"),
        "may_verify": dsr.status == gdpr.Status.RECEIVED,
        "may_reject": dsr.status in (gdpr.Status.RECEIVED, gdpr.Status.VERIFIED),
        "may_run": dsr.status in GDPR_RUNNABLE,
        "result": dsr.result or {},
        # A list, not the dict: a template would read `counts.items` as the count named "items".
        "counts": [(name.replace("_", " ").capitalize(), n)
                   for name, n in ((dsr.result or {}).get("counts") or {}).items()],
        "certificate": _certificate_view(dsr) if dsr.kind == gdpr.Kind.ERASURE else None,
    }
    return render(request, "compliance/gdpr_detail.html", context, status=status)


def _access_dsr(request, request_id):
    require_scope(org=request.org, actor=request.user, scope=gdpr.SCOPE)
    return gdpr.access_gdpr_request(org=request.org, actor=request.user, request_id=request_id)


@require_GET
def gdpr_request_detail(request, org_slug, request_id):
    """One request: where it stands in its lifecycle, and what may be done with it next."""
    return _render_gdpr_detail(request, _access_dsr(request, request_id))


@require_POST
def gdpr_request_transition(request, org_slug, request_id, action):
    """verify / reject / run through the service the API uses; its refusals are shown on the page, in words."""
    if action not in GDPR_TRANSITIONS:
        raise Http404("Not found.")
    dsr = _access_dsr(request, request_id)
    form_class, service, done = GDPR_TRANSITIONS[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            service(org=request.org, actor=request.user, request=dsr, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ConflictError as exc:
            return _render_gdpr_detail(request, _access_dsr(request, request_id), error=exc.message, status=409)
        else:
            messages.success(request, done)
            return redirect("compliance:gdpr_request", org_slug=request.org.slug, request_id=dsr.pk)
    return _render_gdpr_detail(request, dsr, forms={action: form}, status=400)


@require_GET
def gdpr_request_download(request, org_slug, request_id):
    """The access bundle or the signed erasure certificate (audited); before it is done, the page says why not."""
    dsr = _access_dsr(request, request_id)
    try:
        return gdpr.gdpr_request_download(request, org=request.org, actor=request.user, request=dsr)
    except ConflictError as exc:
        return _render_gdpr_detail(request, dsr, error=exc.message, status=409)
