"""Chat and completion messages of the Service API: start a run, stop it.

``chat_message_start`` checks everything that can be refused (inputs, conversation, model
set-up, workflow) before anything is stored, then records the conversation and message and
returns a ``ChatTask``: iterate ``task.events()`` for the stream, or ``task.blocking()``.
With ``store_later`` (a streamed chat or completion app) it returns before the records are
stored: the stream's first event goes out without waiting for the inserts, which follow
right after it (``ChatTask.stored``; a failure ends the stream with an ``error`` event).
Memory of the simple modes follows Dify's TokenBufferMemory default (no window setting in
model_config): the conversation's last 500 messages, cut from the oldest to ~2,000 tokens.
Chatflows get the conversation's turns and apply their LLM nodes' memory windows.
The inputs' moderation (moderation/, all chat modes and completion), the external data
tools, the dataset context and the file checks of the simple modes (chat/external_data.py,
chat/context.py, chat/vision.py) run here too, before anything is stored: a flagged input
is answered with the preset response (no model call), a failed retrieval is a 4xx.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.http import StreamingHttpResponse

from apps.core.errors import InvalidParam, NotFound
from apps.providers.services import (
    ProviderNotInitialized,
    default_model_get,
    provider_credentials_get,
)
from apps.workflows.adapters.models import provider_name
from apps.workflows.annotation_index import annotation_reply_find
from apps.workflows.chat.advanced import advanced_run
from apps.workflows.chat.agent import AgentConfig, agent_config, agent_run, agent_with_datasets
from apps.workflows.chat.annotation import annotation_run
from apps.workflows.chat.context import DatasetContext, dataset_context, prompt_with_context
from apps.workflows.chat.external_data import external_data_fill
from apps.workflows.chat.inputs import (
    form_fields,
    history_window,
    inputs_validate,
    prompt_messages,
    template_render,
)
from apps.workflows.chat.records import (
    conversation_get,
    conversation_new,
    history_turns,
    message_finish,
    message_new,
    records_store,
)
from apps.workflows.chat.simple import ModelCall, direct_run, model_call_params, simple_run
from apps.workflows.chat.speech import with_speech
from apps.workflows.chat.task import ChatTask
from apps.workflows.chat.vision import (
    file_upload_settings,
    files_allowed,
    history_with_images,
    messages_with_images,
)
from apps.workflows.file_services import files_from_request
from apps.workflows.models import App, EndUser, Message
from apps.workflows.moderation import inputs_moderate, moderation_of
from apps.workflows.run_events_store import run_event_store
from apps.workflows.run_services import workflow_for_run, workflow_run_start
from apps.workflows.sse import error_payload
from apps.workflows.task_registry import task_registry
from apps.workflows.workflow_api_services import run_events_stream

CHAT_MODES = ("chat", "agent-chat", "advanced-chat")
logger = logging.getLogger(__name__)


def _model_of(app: App) -> tuple[str | None, str | None, dict[str, Any], list[str]]:
    """The app's model, checked to be callable: provider, name, parameters, stop words."""
    config = app.model_config or {}
    model = config.get("model") or {}
    provider, name = provider_name(model.get("provider")), model.get("name")
    params = model.get("completion_params") or {}
    parameters, stop = model_call_params(params if isinstance(params, Mapping) else {})
    if not provider or not name:
        if default_model_get(workspace=app.workspace, model_type="llm") is None:
            raise ProviderNotInitialized(
                "The app names no model and the workspace has no default LLM; "
                "set the app's model_config.model or a default model."
            )
        return None, None, parameters, stop
    try:
        provider_credentials_get(workspace=app.workspace, provider_name=provider)
    except NotFound as exc:
        raise ProviderNotInitialized(f"Provider {provider} is not available") from exc
    return provider, str(name), parameters, stop


def chat_message_start(
    *,
    app: App,
    end_user: EndUser,
    query: Any,
    inputs: Any,
    files: Any = None,
    conversation_id: str | None = None,
    auto_generate_name: bool = True,
    store_later: bool = False,
) -> ChatTask:
    """Check, record and prepare one message of a chat, agent-chat, advanced-chat or
    completion app (completion apps have no conversation). With ``store_later`` (a streamed
    answer) the records of a chat or completion app are stored by the stream right after its
    first event (chat/task.py); otherwise before this returns."""
    chat = app.mode in CHAT_MODES
    if query is None:
        query = ""
    if not isinstance(query, str):
        raise InvalidParam("query must be a string")
    if chat and not query.strip():
        raise InvalidParam("query is required")
    file_list = files_from_request(app=app, end_user=end_user, files_field=files)
    workflow = workflow_for_run(app=app) if app.mode == "advanced-chat" else None
    conversation = None
    if chat and conversation_id:
        conversation = conversation_get(app=app, end_user=end_user, conversation_id=conversation_id)
        values = dict(conversation.inputs or {})  # Dify keeps a conversation's first inputs
    else:
        fields = form_fields(app, workflow)
        values = inputs_validate(fields, inputs, fill_defaults=workflow is None)
    turns = history_turns(conversation)
    config = app.model_config if isinstance(app.model_config, Mapping) else {}
    settings = (workflow.features or {}) if workflow is not None else config
    moderation = moderation_of(app, settings.get("sensitive_word_avoidance"))
    # Dify: the inputs' moderation comes first; flagged inputs get a preset answer (no model,
    # no retrieval, no workflow), an API extension may change them instead (overridden).
    moderated = inputs_moderate(moderation, values, query)
    direct_answer = moderated.answer
    model_call: ModelCall | None = None
    agent: AgentConfig | None = None
    hit = (
        annotation_reply_find(app=app, query=moderated.query)
        if chat and direct_answer is None
        else None
    )  # annotation reply: a stored answer to a query like this one, no model or workflow
    context: DatasetContext | None = None
    message_pk = uuid.uuid4()
    if workflow is None:
        upload = file_upload_settings(config)
        file_list = files_allowed(upload, file_list)
        if app.mode == "agent-chat":
            agent = agent_config(app.workspace, config)
        provider, model, parameters, stop_words = _model_of(app)
        prompt_values = moderated.inputs
        if direct_answer is None and hit is None:
            prompt_values = external_data_fill(app, config, prompt_values, moderated.query)
            if agent is not None:  # Dify: an agent searches its datasets as tools
                agent = agent_with_datasets(agent, app, message_id=str(message_pk))
            else:
                context = dataset_context(
                    app, query=moderated.query, inputs=prompt_values, message_id=str(message_pk)
                )
        pre_prompt = template_render(str(config.get("pre_prompt") or ""), prompt_values)
        messages = prompt_messages(
            pre_prompt=prompt_with_context(pre_prompt, context),
            inputs={},  # rendered already: chunk text is not a template
            query=moderated.query,
            history=history_with_images(app, history_window(turns), upload) if chat else [],
        )
        if direct_answer is None and file_list:
            messages = messages_with_images(app, messages, file_list, upload)
        model_call = ModelCall(provider, model, parameters, stop_words, messages)

    new_conversation = chat and conversation is None
    if new_conversation:
        opening = str(settings.get("opening_statement") or "")
        conversation = conversation_new(
            app=app, end_user=end_user, inputs=values, introduction=template_render(opening, values)
        )
    task_id = str(uuid.uuid4())
    message = message_new(
        app=app, end_user=end_user, conversation=conversation, task_id=task_id,
        query=query, inputs=values, files=file_list,
    )  # fmt: skip
    message.pk = message_pk
    if context is not None:
        message.retriever_resources = context.resources
    stop = task_registry().register(task_id, app_id=str(app.pk), user=end_user.session_id)
    stored_already = False
    workflow_run = None
    if direct_answer is not None:
        run = direct_run(direct_answer)
    elif hit is not None:
        run = annotation_run(hit)
    elif workflow is not None:
        assert conversation is not None
        try:
            records_store(message, new_conversation=new_conversation)
        except BaseException:
            task_registry().finish(task_id)
            raise
        stored_already = True
        try:
            handle = workflow_run_start(
                app=app, inputs=moderated.inputs, user_id=end_user.session_id,
                query=moderated.query, files=file_list, conversation_id=str(conversation.pk),
                history=turns, stop=stop, workflow=workflow,
            )  # fmt: skip
        except Exception as exc:
            task_registry().finish(task_id)
            message_finish(
                message, answer="", prompt_tokens=0, completion_tokens=0, latency=0.0,
                status=Message.Status.ERROR, error=str(exc),
            )  # fmt: skip
            raise
        run = advanced_run(handle, moderation)
        workflow_run = handle.record
    elif agent is not None:
        assert model_call is not None
        run = agent_run(model_call, agent, moderation)
        store_later = False  # the agent loop does not wait for the records
    else:
        assert model_call is not None
        run = simple_run(model_call, moderation)
    task = ChatTask(
        app=app, end_user=end_user, conversation=conversation, message=message,
        task_id=task_id, stop=stop, run=run, new_conversation=new_conversation,
        name_conversation=new_conversation and auto_generate_name, workflow_run=workflow_run,
    )  # fmt: skip
    if stored_already:
        task.store_done(True)
    elif store_later:
        task.store = chat_message_store  # by the stream, once its first event is out
    else:
        try:
            chat_message_store(task)
        except BaseException:
            task_registry().finish(task_id)
            raise
    return task


def chat_message_store(task: ChatTask) -> None:
    """Insert the task's message (and new conversation), unless done already. On failure
    the task is marked so (its run ends without writing) and the error propagates: the
    request fails, or a stream that stores after its first event ends with an error."""
    if task.is_stored:
        return
    try:
        records_store(task.message, new_conversation=task.new_conversation)
    except BaseException:
        task.store_done(False)
        raise
    task.store_done(True)


def chat_task_stream_resumable(task: ChatTask) -> StreamingHttpResponse:
    """A chatflow's stream, resumable like a workflow's: the task runs on its own thread
    into the run's event store (to the end, whoever listens), the answer follows the store
    with ``id:`` on each frame; ``GET /v1/workflow/{run id}/events`` with ``Last-Event-ID``
    sends what a dropped client missed."""
    run = task.workflow_run
    assert run is not None
    run_id, store = str(run.pk), run_event_store()

    def work() -> None:
        try:
            for payload in with_speech(task.events(), app=task.app):
                store.append(run_id, payload)
        except Exception:
            logger.exception("chatflow stream of run %s failed", run_id)
            message = "The server encountered an internal error."
            store.append(run_id, error_payload("internal_server_error", message, 500, **task.ids()))
        finally:
            store.close(run_id)
            connections.close_all()  # this thread's connections only

    threading.Thread(target=work, name=f"chatflow-{run_id}", daemon=True).start()
    return run_events_stream(run)


def chat_task_stop(*, app: App, user: str, task_id: str) -> None:
    """Ask a running message of this (app, user) to stop; unknown tasks are ignored (Dify)."""
    task_registry().request_stop(str(task_id), app_id=str(app.pk), user=user)
