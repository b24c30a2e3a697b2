"""Dify's ``time`` provider: current time, timezone conversion, timestamps, weekday."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_FORMAT_LENGTH = 200
TIMEZONE_OPTIONS = (
    "UTC", "America/New_York", "America/Los_Angeles", "America/Chicago", "America/Sao_Paulo",
    "Asia/Shanghai", "Asia/Ho_Chi_Minh", "Asia/Tokyo", "Asia/Dubai", "Asia/Kolkata",
    "Asia/Seoul", "Asia/Singapore", "Europe/London", "Europe/Berlin", "Europe/Moscow",
    "Australia/Sydney", "Pacific/Auckland", "Africa/Cairo",
)  # fmt: skip
_INPUT_FORMATS = (TIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def zone(name: str) -> tzinfo:
    name = (name or "UTC").strip()
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(
            f"invalid timezone: {name!r} (use an IANA name such as Asia/Tokyo)"
        ) from exc


def parse_local(text: str) -> datetime:
    """``2024-1-1 0:0:0`` as Dify accepts it (strptime is lenient about leading zeros)."""
    text = str(text).strip()
    for fmt in _INPUT_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise ToolError(f"invalid datetime {text!r}: expected YYYY-MM-DD HH:MM:SS") from exc


def localize(naive: datetime, tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=tz)


class CurrentTimeTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="current_time",
        label="Current Time",
        description="A tool for getting the current time.",
        llm_description="Get the current date and time in a timezone.",
        parameters=(
            ToolParameter(
                name="format", type="string", form="form", label="Format",
                human_description="Time format in strftime standard.",
                default="%Y-%m-%d %H:%M:%S",
            ),
            ToolParameter(
                name="timezone", type="select", form="form", label="Timezone",
                human_description="Timezone", default="UTC", options=TIMEZONE_OPTIONS,
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        tz_name = str(parameters.get("timezone") or "UTC")
        fmt = str(parameters.get("format") or "%Y-%m-%d %H:%M:%S %Z")
        if len(fmt) > MAX_FORMAT_LENGTH:
            raise ToolError(f"time format longer than {MAX_FORMAT_LENGTH} characters")
        now = datetime.now(zone(tz_name))
        try:
            text = now.strftime(fmt)
        except ValueError as exc:
            raise ToolError(f"invalid time format {fmt!r}: {exc}") from exc
        return ToolResult(
            text=text,
            json=[{"time": text, "timezone": tz_name, "timestamp": int(now.timestamp())}],
        )


class TimezoneConversionTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="timezone_conversion",
        label="Convert time to equivalent time zone",
        description="A tool to convert time to equivalent time zone",
        llm_description=(
            "Convert a local date-time (YYYY-MM-DD HH:MM:SS) from one IANA timezone to another."
        ),
        parameters=(
            ToolParameter(
                name="current_time", required=True, label="current time",
                human_description="current time, such as 2024-1-1 0:0:0",
                llm_description="The date-time to convert, formatted YYYY-MM-DD HH:MM:SS.",
            ),
            ToolParameter(
                name="current_timezone", required=True, label="Current Timezone",
                human_description="Current Timezone, such as Asia/Shanghai",
                llm_description="IANA timezone of current_time, e.g. Asia/Shanghai.",
                default="Asia/Shanghai",
            ),
            ToolParameter(
                name="target_timezone", required=True, label="Target Timezone",
                human_description="Target Timezone, such as Asia/Tokyo",
                llm_description="IANA timezone to convert to, e.g. Asia/Tokyo.",
                default="Asia/Tokyo",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        source = zone(str(parameters.get("current_timezone") or "Asia/Shanghai"))
        target = zone(str(parameters.get("target_timezone") or "Asia/Tokyo"))
        moment = localize(parse_local(str(parameters.get("current_time", ""))), source)
        text = moment.astimezone(target).strftime(TIME_FORMAT)
        return ToolResult(text=text, json=[{"time": text, "timestamp": int(moment.timestamp())}])


class LocaltimeToTimestampTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="localtime_to_timestamp",
        label="Localtime to timestamp",
        description="A tool for localtime convert to timestamp",
        llm_description="Convert a local date-time (YYYY-MM-DD HH:MM:SS) to a UNIX timestamp.",
        parameters=(
            ToolParameter(
                name="localtime", required=True, label="localtime",
                human_description="localtime, such as 2024-1-1 0:0:0",
                llm_description="The local date-time, formatted YYYY-MM-DD HH:MM:SS.",
            ),
            ToolParameter(
                name="timezone", label="Timezone",
                human_description="Timezone, such as Asia/Shanghai",
                llm_description="IANA timezone of localtime, e.g. Asia/Shanghai.",
                default="Asia/Shanghai",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        tz = zone(str(parameters.get("timezone") or "Asia/Shanghai"))
        moment = localize(parse_local(str(parameters.get("localtime", ""))), tz)
        timestamp = int(moment.timestamp())
        return ToolResult(text=str(timestamp), json=[{"timestamp": timestamp}])


class TimestampToLocaltimeTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="timestamp_to_localtime",
        label="Timestamp to localtime",
        description="A tool for timestamp convert to localtime",
        llm_description="Convert a UNIX timestamp (seconds) to a local date-time in a timezone.",
        parameters=(
            ToolParameter(
                name="timestamp", type="number", required=True, label="Timestamp",
                human_description="Timestamp", llm_description="UNIX timestamp in seconds.",
            ),
            ToolParameter(
                name="timezone", label="Timezone",
                human_description="Timezone, such as Asia/Shanghai",
                llm_description="IANA timezone for the result, e.g. Asia/Shanghai.",
                default="Asia/Shanghai",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        tz = zone(str(parameters.get("timezone") or "Asia/Shanghai"))
        try:
            moment = datetime.fromtimestamp(float(parameters["timestamp"]), tz)
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise ToolError(f"invalid timestamp: {parameters.get('timestamp')!r}") from exc
        text = moment.strftime(TIME_FORMAT)
        return ToolResult(text=text, json=[{"time": text, "iso": moment.isoformat()}])


class WeekdayTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="weekday",
        label="Weekday Calculator",
        description="A tool for calculating the weekday of a given date.",
        llm_description="Find the day of the week of a date given by year, month and day.",
        parameters=(
            ToolParameter(name="year", type="number", required=True, label="Year",
                          llm_description="Year, e.g. 2024"),
            ToolParameter(name="month", type="number", required=True, label="Month",
                          llm_description="Month, 1-12"),
            ToolParameter(name="day", type="number", required=True, label="Day",
                          llm_description="Day of the month, 1-31"),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            year, month, day = (int(parameters[k]) for k in ("year", "month", "day"))
            date = datetime(year, month, day)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ToolError(
                f"Invalid date: Year {parameters.get('year')}, Month {parameters.get('month')}, "
                f"Day {parameters.get('day')}."
            ) from exc
        weekday = calendar.day_name[date.weekday()]
        text = f"{calendar.month_name[month]} {date.day}, {date.year} is {weekday}."
        return ToolResult(text=text, json=[{"date": date.date().isoformat(), "weekday": weekday}])


class TimeProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="time",
        label="CurrentTime",
        description="A tool for getting the current time.",
        tags=("utilities",),
    )
    tools = (
        CurrentTimeTool(),
        TimezoneConversionTool(),
        LocaltimeToTimestampTool(),
        TimestampToLocaltimeTool(),
        WeekdayTool(),
    )
