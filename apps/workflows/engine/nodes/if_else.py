"""if-else: tries its cases in order; the first that holds picks the edge (its case id).

No case holding takes the ``"false"`` (else) edge. Old files have one unnamed case as
``logical_operator`` + ``conditions``; it is the case ``"true"``.
"""

from __future__ import annotations

from typing import Any

from ..conditions import evaluate, validate_conditions
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

ELSE_HANDLE = "false"


@register
class IfElseNode(Node):
    node_type = "if-else"
    is_branch = True

    def parse(self) -> None:
        raw_cases = self.data.get("cases")
        self.cases: list[tuple[str, str, list[dict[str, Any]]]] = []
        if raw_cases is None:
            operator = self._logical("logical_operator", self.data.get("logical_operator"))
            conditions = validate_conditions(self.id, "conditions", self.data.get("conditions"))
            self.cases.append(("true", operator, conditions))
            return
        if not isinstance(raw_cases, list):
            raise self.fail_config(
                "cases", "must be a list of {case_id, logical_operator, conditions}"
            )
        for position, case in enumerate(raw_cases):
            where = f"cases[{position}]"
            if not isinstance(case, dict):
                raise self.fail_config(where, "must be an object")
            case_id = case.get("case_id") or case.get("id")
            if not case_id:
                raise self.fail_config(f"{where}.case_id", "is required")
            operator = self._logical(f"{where}.logical_operator", case.get("logical_operator"))
            conditions = validate_conditions(self.id, f"{where}.conditions", case.get("conditions"))
            self.cases.append((str(case_id), operator, conditions))

    def _logical(self, field_name: str, value: Any) -> str:
        if value in (None, ""):
            return "and"
        if value not in ("and", "or"):
            raise self.fail_config(field_name, "must be 'and' or 'or'")
        return str(value)

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        selected = ELSE_HANDLE
        result = False
        case_results: list[dict[str, Any]] = []
        checked: list[dict[str, Any]] = []
        for case_id, operator, conditions in self.cases:
            result, details = evaluate(pool, conditions, operator)
            checked.extend(details)
            case_results.append(
                {
                    "case_id": case_id,
                    "logical_operator": operator,
                    "results": details,
                    "final_result": result,
                }
            )
            if result:
                selected = case_id
                break
        return NodeResult(
            inputs={
                "#conditions#": [{k: v for k, v in d.items() if k != "result"} for d in checked]
            },
            process_data={"condition_results": case_results},
            outputs={"result": result, "selected_case_id": selected},
            edge_handle=selected,
        )
