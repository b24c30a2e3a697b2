"""Built-in tool providers: one module per provider, one registry line each."""

from __future__ import annotations

from apps.tools.base import builtin_providers
from apps.tools.builtin import json_process, maths, regex, tavily, text_utils, time, webscraper

__all__ = ["builtin_providers"]

builtin_providers.register(time.TimeProvider())
builtin_providers.register(webscraper.WebscraperProvider())
builtin_providers.register(maths.MathsProvider())
builtin_providers.register(json_process.JsonProcessProvider())
builtin_providers.register(regex.RegexProvider())
builtin_providers.register(text_utils.TextUtilsProvider())
builtin_providers.register(tavily.TavilyProvider())
