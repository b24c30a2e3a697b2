"""Chat, agent-chat, advanced-chat and completion messages (see chat_services)."""
