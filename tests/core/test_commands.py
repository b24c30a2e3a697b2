"""Operator commands: results on the last line, one-line reasons and exit 1 on errors."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.providers.models import DefaultModel, ProviderCredential
from apps.tenants.models import ApiKey, Membership, Workspace
from apps.tenants.services import api_key_authenticate
from tests.factories import make_app, make_workspace

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_workspace_prints_id_last():
    lines = run("create_workspace", "Research", "--owner", "Ann@Example.com", "--password", "pw-1x")
    workspace = Workspace.objects.get(pk=lines[-1])
    membership = Membership.objects.get(workspace=workspace)
    assert workspace.name == "Research" and membership.role == "owner"
    assert membership.user.email == "ann@example.com" and membership.user.check_password("pw-1x")


def test_create_workspace_generates_a_password_for_a_new_account():
    lines = run("create_workspace", "Lab", "--owner", "lee@example.com")
    assert "password" in lines[0]
    password = lines[0].rsplit(" ", 1)[-1]
    user = Membership.objects.get(workspace_id=lines[-1]).user
    assert user.check_password(password)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["create_workspace", "X", "--owner", "not-an-email"], "valid email"),
        (["create_workspace", "  ", "--owner", "a@example.com"], "empty"),
        (["create_api_key", "Nowhere", "--dataset"], "not found"),
        (["list_models", "Nowhere"], "not found"),
        (["set_provider", "Main", "nonexistent", "--credential", "a=b"], "unknown provider"),
        (
            ["set_provider", "Main", "openai_api_compatible", "--credential", "base_url"],
            "KEY=VALUE",
        ),
        (
            ["set_provider", "Main", "openai_api_compatible", "--credential", "api_key=x"],
            "base_url",
        ),
    ],
)
def test_errors_are_one_line_reasons(args, reason):
    make_workspace("Main")
    with pytest.raises(CommandError) as info:
        run(*args)
    message = str(info.value)
    assert reason in message and "\n" not in message and "Traceback" not in message


def test_workspace_is_accepted_by_id_or_name_and_ambiguity_is_reported():
    workspace = make_workspace("Twin")
    assert run("create_api_key", str(workspace.pk), "--dataset")[-1].startswith("dataset-")
    assert run("create_api_key", "Twin", "--dataset")[-1].startswith("dataset-")
    make_workspace("Twin")
    with pytest.raises(CommandError, match="more than one"):
        run("create_api_key", "Twin", "--dataset")


def test_create_api_key_for_an_app():
    workspace = make_workspace("Keys")
    app = make_app(workspace)
    raw = run("create_api_key", "Keys", "--app", str(app.pk))[-1]
    found = api_key_authenticate(raw)
    assert found is not None and found.app_id == app.pk and found.type == "app"
    other = make_app(make_workspace("Other"))
    with pytest.raises(CommandError, match="app not found"):
        run("create_api_key", "Keys", "--app", str(other.pk))
    with pytest.raises(CommandError, match="app not found"):
        run("create_api_key", "Keys", "--app", "not-a-uuid")
    assert ApiKey.objects.filter(workspace=workspace).count() == 1


def test_set_provider_validates_with_a_real_call_and_sets_defaults(fake_openai):
    workspace = make_workspace("Prov")
    lines = run(
        "set_provider",
        "Prov",
        "openai_api_compatible",
        "--credential",
        f"base_url={fake_openai.base_url}",
        "--credential",
        f"api_key={fake_openai.api_key}",
        "--credential",
        "models=fake-chat,fake-embed:text-embedding",
        "--default-chat",
        "fake-chat",
        "--default-embedding",
        "fake-embed",
    )
    assert ProviderCredential.objects.get(pk=lines[-1]).workspace_id == workspace.pk
    assert fake_openai.requests_to("/chat/completions") or fake_openai.requests_to("/embeddings")
    defaults = {d.model_type: d.model for d in DefaultModel.objects.filter(workspace=workspace)}
    assert defaults == {"llm": "fake-chat", "text-embedding": "fake-embed"}
    listed = json.loads(run("list_models", "Prov", "--json")[-1])
    assert {
        "provider": "openai_api_compatible",
        "model": "fake-chat",
        "model_type": "llm",
        "default": True,
    } in listed
    table = run("list_models", "Prov")
    assert any("fake-chat" in line and "(default)" in line for line in table)


def test_set_provider_with_a_bad_key_fails_without_leaking_it(fake_openai):
    make_workspace("Bad")
    with pytest.raises(CommandError) as info:
        run(
            "set_provider",
            "Bad",
            "openai_api_compatible",
            "--credential",
            f"base_url={fake_openai.base_url}",
            "--credential",
            "api_key=sk-very-secret-999",
            "--credential",
            "models=fake-chat",
        )
    assert "sk-very-secret-999" not in str(info.value)
    assert not ProviderCredential.objects.exists()


def test_set_provider_no_validate_makes_no_call(fake_openai):
    make_workspace("Quiet")
    run(
        "set_provider",
        "Quiet",
        "openai",
        "--credential",
        "openai_api_key=sk-abc",
        "--credential",
        f"openai_api_base={fake_openai.base_url}",
        "--no-validate",
    )
    assert fake_openai.requests == []
    assert ProviderCredential.objects.get().is_valid is None


def test_minilm_default_needs_no_credentials():
    make_workspace("Local")
    run("set_provider", "Local", "minilm", "--default-embedding", "all-MiniLM-L6-v2")
    assert DefaultModel.objects.get().provider == "minilm"


def test_bootstrap_is_idempotent(settings):
    settings.ADMIN_PASSWORD = "Admin-pass-123"
    first = run("bootstrap")
    second = run("bootstrap")
    assert first[-1] == second[-1] and Workspace.objects.count() == 1
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(is_superuser=True)
    assert admin.check_password("Admin-pass-123") and admin.is_staff
    assert Membership.objects.get(workspace_id=first[-1]).user == admin


def test_chat_command_streams_the_answer_and_reports_usage(fake_openai):
    workspace = make_workspace("Talk")
    run(
        "set_provider", "Talk", "openai_api_compatible",
        "--credential", f"base_url={fake_openai.base_url}",
        "--credential", f"api_key={fake_openai.api_key}",
        "--credential", "models=fake-chat", "--default-chat", "fake-chat",
    )  # fmt: skip
    fake_openai.reply_text = "Paris is the capital."
    lines = run("chat", str(workspace.pk), "Capital of France?", "--system", "Be brief.")
    assert lines[0] == "Paris is the capital."
    usage = json.loads(lines[-1])
    assert usage["completion_tokens"] > 0 and usage["total_tokens"] >= usage["completion_tokens"]
    sent = fake_openai.requests_to("/chat/completions")[-1].json
    assert sent["stream"] is True and sent["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }


def test_chat_command_without_a_model_says_what_to_do():
    make_workspace("Empty")
    with pytest.raises(CommandError, match="No default llm model"):
        run("chat", "Empty", "hello")
