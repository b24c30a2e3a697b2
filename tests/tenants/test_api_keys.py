import re

import pytest
from django.utils import timezone

from apps.tenants import keys
from apps.tenants.models import ApiKey
from apps.tenants.services import api_key_authenticate, api_key_create
from tests.factories import make_app, make_workspace

pytestmark = pytest.mark.django_db


def test_generated_keys_have_difys_form():
    for kind in ("app", "dataset"):
        raw = keys.generate_key(kind)
        assert re.fullmatch(rf"{kind}-[A-Za-z0-9]{{24}}", raw)
        assert keys.key_type_of(raw) == kind
    assert keys.generate_key("app") != keys.generate_key("app")
    assert keys.key_type_of("sk-123") is None
    assert keys.key_type_of("app") is None
    with pytest.raises(ValueError):
        keys.generate_key("admin")


def test_only_the_hash_of_a_key_is_stored():
    workspace = make_workspace()
    app = make_app(workspace)
    api_key, raw = api_key_create(workspace=workspace, key_type="app", app=app)
    row = ApiKey.objects.get(pk=api_key.pk)
    assert row.key_hash == keys.hash_key(raw) and len(row.key_hash) == 64
    values = ApiKey.objects.filter(pk=api_key.pk).values().first()
    assert values is not None
    stored = " ".join(str(v) for v in values.values())
    assert raw not in stored
    assert raw[:8] in row.prefix and raw[8:] not in row.prefix


def test_authenticate_finds_key_and_rejects_others():
    workspace = make_workspace()
    _, raw = api_key_create(workspace=workspace, key_type="dataset")
    found = api_key_authenticate(raw)
    assert found is not None and found.workspace_id == workspace.pk
    assert api_key_authenticate(raw + "x") is None
    assert api_key_authenticate("dataset-" + "A" * 24) is None
    assert api_key_authenticate("") is None


def test_last_used_is_recorded_without_a_write_per_request(django_assert_num_queries):
    workspace = make_workspace()
    _, raw = api_key_create(workspace=workspace, key_type="dataset")
    with django_assert_num_queries(2):  # lookup + one update of last_used_at
        first = api_key_authenticate(raw)
    assert first is not None and first.last_used_at is not None
    with django_assert_num_queries(1):  # used a moment ago: lookup only
        api_key_authenticate(raw)
    assert first.last_used_at <= timezone.now()


def test_app_key_needs_app_of_same_workspace():
    from apps.core.errors import InvalidParam, NotFound

    a, b = make_workspace(), make_workspace()
    with pytest.raises(InvalidParam):
        api_key_create(workspace=a, key_type="app")
    with pytest.raises(NotFound):
        api_key_create(workspace=a, key_type="app", app=make_app(b))
    with pytest.raises(InvalidParam):
        api_key_create(workspace=a, key_type="dataset", app=make_app(a))
    with pytest.raises(InvalidParam):
        api_key_create(workspace=a, key_type="admin")
