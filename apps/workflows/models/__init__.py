"""Models of apps, workflows, runs, conversations, messages, files and annotations."""

from .annotations import (
    Annotation,
    AnnotationHitHistory,
    AnnotationReplyJob,
    AnnotationReplySetting,
)
from .app import App
from .chat import Conversation, EndUser, Message, MessageFeedback
from .conversation_variables import ConversationVariableSet
from .files import UploadFile
from .runs import NodeExecution, Workflow, WorkflowRun

__all__ = [
    "Annotation",
    "AnnotationHitHistory",
    "AnnotationReplyJob",
    "AnnotationReplySetting",
    "App",
    "Conversation",
    "ConversationVariableSet",
    "EndUser",
    "Message",
    "MessageFeedback",
    "NodeExecution",
    "UploadFile",
    "Workflow",
    "WorkflowRun",
]
