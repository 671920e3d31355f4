"""Pages of the compliance app: the organisation's audit log and the compliance officer's console."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.ids import parse_id
from apps.storage.http import content_disposition
from apps.tenancy.permissions import require_scope

from . import console, reports, selectors, services, signing
from .exports import audit_export_create, open_and_forget
from .forms import AccessReportForm, AuditExportForm, AuditFilterForm

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
    """Where each kind of the organisation's data lives, and any object found outside its region."""
    from .residency import residency_report

    require_scope(org=request.org, actor=request.user, scope="audit.view")
    return render(request, "compliance/residency.html", {"report": residency_report(org=request.org)})
