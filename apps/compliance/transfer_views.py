"""Pages: recording and revoking cross-region transfer bases, from the residency page (scope transfer.manage)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from apps.core.errors import ConflictError
from apps.tenancy.permissions import has_scope, require_scope

from . import transfers
from .forms import TransferBasisForm, TransferBasisRevokeForm
from .residency import residency_report


def transfer_basis_form(org, data=None) -> TransferBasisForm:
    return TransferBasisForm(data, regions=[r for r in settings.REGIONS if r != org.region])


def residency_page(request, *, form=None, status: int = 200):
    """The residency page: where data lives, the transfer bases, and (for transfer.manage) the form to record one."""
    may_manage = has_scope(org=request.org, actor=request.user, scope=transfers.SCOPE)
    context = {"report": residency_report(org=request.org), "may_manage_transfers": may_manage,
               "transfer_form": (form or transfer_basis_form(request.org)) if may_manage else None,
               "revoke_form": TransferBasisRevokeForm() if may_manage else None}
    return render(request, "compliance/residency.html", context, status=status)


def _service_errors(form, exc: ValidationError) -> None:
    """A service's DRF ValidationError ({field: message or [messages]}) next to the fields it names."""
    for field, problems in (exc.detail.items() if isinstance(exc.detail, dict) else [(None, exc.detail)]):
        problems = [problems] if isinstance(problems, str) else problems
        form.add_error(field if field in form.fields else None, [str(p) for p in problems])


@require_POST
def transfer_basis_record(request, org_slug):
    require_scope(org=request.org, actor=request.user, scope=transfers.SCOPE)
    form = transfer_basis_form(request.org, request.POST)
    if form.is_valid():
        try:
            recorded = transfers.transfer_basis_record(org=request.org, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _service_errors(form, exc)
        except DjangoValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"Recorded: {recorded}. Copies may be stored in region "
                                      f"{recorded.destination_region} until {recorded.valid_until:%Y-%m-%d}.")
            return redirect("compliance:residency", org_slug=request.org.slug)
    return residency_page(request, form=form, status=400)


@require_POST
def transfer_basis_revoke(request, org_slug, basis_id):
    found = transfers.access_transfer_basis(org=request.org, actor=request.user, basis_id=basis_id)
    form = TransferBasisRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the basis no longer holds to revoke it.")
    else:
        try:
            transfers.transfer_basis_revoke(org=request.org, actor=request.user, basis=found,
                                            reason=form.cleaned_data["reason"])
        except ConflictError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Revoked: {found}. Storage refuses region {found.destination_region} again.")
    return redirect("compliance:residency", org_slug=request.org.slug)
