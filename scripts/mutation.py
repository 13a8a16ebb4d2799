"""Mutation testing of the loss code: does every small change to it make a test fail?

Each mutant is one AST edit of one file of ``src/growclip_hf/continual/`` or ``src/growclip_hf/objective/``: an
operator or comparison swapped, an operand dropped (``a + b`` -> ``a``), a number changed, a condition negated, two
call arguments swapped, a keyword argument or a call dropped (``f(x)`` -> ``x``, ``x.detach()`` -> ``x``), a
statement removed, a ``with`` block unwrapped (``torch.no_grad()`` gone). Docstrings, annotations, imports,
``raise`` statements and string constants are left alone.

The checkout is never touched: the package is copied into a scratch folder, the mutant is written there and the
relevant test files run with that copy first on ``sys.path`` (spawned test processes inherit it). To save the
~5 s of importing torch and transformers per mutant, a parent process imports them once and forks one child per
mutant. A mutant is killed when a test fails, survives when all pass, and counts as killed on timeout.

    python scripts/mutation.py                 # everything (make mutation); survivors are listed at the end
    python scripts/mutation.py --list          # the mutants only
    python scripts/mutation.py --only modx.py  # the files whose path contains this text
    python scripts/mutation.py --survivors-of build/mutation/results.jsonl  # re-check earlier survivors

Results (one JSON line per mutant) go to build/mutation/results.jsonl.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "growclip_hf"
TARGETS = sorted((PACKAGE / "continual").glob("*.py")) + sorted((PACKAGE / "objective").glob("*.py"))
# Test files per target folder, fastest first (pytest stops at the first failure).
TESTS = {
    "continual": [
        "tests/test_continual_losses.py",
        "tests/test_continual_devices.py",
        "tests/test_continual_wiring.py",
        "tests/test_continual_objective.py",
        "tests/test_continual_example.py",
        "tests/test_continual_distributed.py",
    ],
    "objective": [
        "tests/test_continual_losses.py",
        "tests/test_continual_devices.py",
        "tests/test_continual_wiring.py",
        "tests/test_continual_objective.py",
        "tests/test_training_loss.py",
        "tests/test_continual_distributed.py",
    ],
}
PRELOAD = ("torch", "torch.distributed", "torch.multiprocessing", "transformers", "transformers.modeling_utils")
PRELOAD += ("safetensors.torch", "accelerate", "pytest", "numpy")

BINARY_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div}
BINARY_SWAPS |= {ast.Pow: ast.Mult, ast.Mod: ast.Mult}
COMPARE_SWAPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE}
COMPARE_SWAPS |= {ast.GtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass
class Mutant:
    file: str
    index: int
    line: int
    description: str
    status: str = "not run"
    seconds: float = 0.0
    source: str = field(default="", repr=False)  # the file as read at the start (edits during a run do not count)


class Mutator(ast.NodeTransformer):
    """Walks a module; every possible edit is a numbered site. With ``target`` set, applies that one edit."""

    def __init__(self, target: int | None = None):
        self.target = target
        self.sites: list[tuple[int, str]] = []

    def _offer(self, node, description: str, make):
        index = len(self.sites)
        self.sites.append((getattr(node, "lineno", 0), description))
        return make() if index == self.target else None

    def _first(self, node, offers):
        """Offer each (description, make) in turn; return the applied replacement, else the node itself."""
        chosen = None
        for description, make in offers:
            result = self._offer(node, description, make)
            chosen = chosen if result is None else result
        return node if chosen is None else chosen

    # -- parts never mutated ---------------------------------------------------------------------------------------
    def visit_Import(self, node):
        return node

    visit_ImportFrom = visit_Import
    visit_Raise = visit_Import
    visit_JoinedStr = visit_Import

    def visit_arg(self, node):
        return node  # annotations

    def visit_FunctionDef(self, node):
        node.decorator_list = [self.visit(d) for d in node.decorator_list]  # (the return annotation is skipped)
        node.args = self.visit(node.args)
        node.body = self._body(node.body)
        return node

    def visit_ClassDef(self, node):
        node.body = self._body(node.body)
        return node

    def visit_AnnAssign(self, node):
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        return self.generic_visit(node)

    def _body(self, body):
        start = 1 if body and _is_docstring(body[0]) else 0
        result = body[:start]
        for statement in body[start:]:
            new = self.visit(statement)
            result.extend(new if isinstance(new, list) else [new])
        return result or [ast.Pass()]

    def visit_Module(self, node):
        node.body = self._body(node.body)
        return node

    # -- statements ------------------------------------------------------------------------------------------------
    def visit_Expr(self, node):
        node = self.generic_visit(node)
        if isinstance(node.value, ast.Call):
            return self._first(node, [("call statement removed", lambda: ast.Pass())])
        return node

    def visit_With(self, node):
        node.items = [self.visit(item) for item in node.items]
        node.body = self._body(node.body)
        context = ast.unparse(node.items[0].context_expr)
        return self._first(node, [(f"`with {context}` unwrapped", lambda: node.body)])

    def visit_If(self, node):
        node = self.generic_visit(node)
        if isinstance(node.test, ast.Compare | ast.BoolOp):
            return node
        test = node.test
        return self._first(node, [("condition negated", lambda: _replace(node, test=_negate(test)))])

    def visit_IfExp(self, node):
        return self.visit_If(node)

    def visit_AugAssign(self, node):
        node = self.generic_visit(node)
        swap = BINARY_SWAPS.get(type(node.op))
        if swap is None:
            return node
        return self._first(node, [(f"{_op(node.op)}= -> {_op(swap())}=", lambda: _replace(node, op=swap()))])

    # -- expressions -----------------------------------------------------------------------------------------------
    def visit_BinOp(self, node):
        node = self.generic_visit(node)
        offers = []
        swap = BINARY_SWAPS.get(type(node.op))
        if swap is not None:
            offers.append((f"{_op(node.op)} -> {_op(swap())}", lambda: _replace(node, op=swap())))
        if isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            offers.append((f"`{_short(node)}` -> left operand", lambda: node.left))
        if isinstance(node.op, ast.Add | ast.Mult):
            offers.append((f"`{_short(node)}` -> right operand", lambda: node.right))
        return self._first(node, offers)

    def visit_UnaryOp(self, node):
        node = self.generic_visit(node)
        if isinstance(node.op, ast.Not | ast.USub):
            return self._first(node, [(f"{_op(node.op)} dropped", lambda: node.operand)])
        return node

    def visit_BoolOp(self, node):
        node = self.generic_visit(node)
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        return self._first(node, [(f"{_op(node.op)} -> {_op(other())}", lambda: _replace(node, op=other()))])

    def visit_Compare(self, node):
        node = self.generic_visit(node)
        offers = []
        for position, op in enumerate(node.ops):
            swap = COMPARE_SWAPS.get(type(op))
            if swap is not None:
                ops = [*node.ops[:position], swap(), *node.ops[position + 1 :]]
                offers.append((f"{_op(op)} -> {_op(swap())}", lambda ops=ops: _replace(node, ops=ops)))
        return self._first(node, offers)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            return self._first(node, [(f"{value} -> {not value}", lambda: ast.Constant(not value))])
        if isinstance(value, int | float):
            return self._first(node, [(f"{value!r} -> {value + 1!r}", lambda: ast.Constant(value + 1))])
        return node

    def visit_Call(self, node):
        node = self.generic_visit(node)
        offers = []
        args = node.args
        name = _short(node.func)
        if not any(isinstance(a, ast.Starred) for a in args):
            for i in range(len(args) - 1):
                swapped = [*args[:i], args[i + 1], args[i], *args[i + 2 :]]
                offers.append((f"{name}: arguments {i} and {i + 1} swapped", lambda s=swapped: _replace(node, args=s)))
            if len(args) >= 4:
                half = len(args) // 2
                halves = [*args[half : 2 * half], *args[:half], *args[2 * half :]]
                offers.append((f"{name}: argument halves swapped", lambda: _replace(node, args=halves)))
        for keyword in node.keywords:
            if keyword.arg is not None:
                kept = [k for k in node.keywords if k is not keyword]
                offers.append((f"{name}: `{keyword.arg}=` dropped", lambda k=kept: _replace(node, keywords=k)))
        if len(args) == 1 and not node.keywords and not isinstance(args[0], ast.Starred):
            offers.append((f"`{name}(x)` -> x", lambda: args[0]))
        if not args and not node.keywords and isinstance(node.func, ast.Attribute):
            offers.append((f"`.{node.func.attr}()` dropped", lambda: node.func.value))
        return self._first(node, offers)


def _is_docstring(statement) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _replace(node, **fields):
    new = copy.copy(node)
    for key, value in fields.items():
        setattr(new, key, value)
    return new


def _negate(test):
    return (
        test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else ast.UnaryOp(ast.Not(), test)
    )


def _op(op) -> str:
    return ast.unparse(ast.BinOp(ast.Name("a"), op, ast.Name("b")))[2:-2] if isinstance(op, ast.operator) else {
        ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
        ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and", ast.Or: "or", ast.Not: "not",
        ast.USub: "unary -",
    }.get(type(op), type(op).__name__)  # fmt: skip


def _short(node, limit: int = 48) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mutants_of(path: Path) -> tuple[str, list[Mutant]]:
    """The file's baseline source (unparsed, so mutants differ only by their edit) and its mutants; edits that leave
    the code unchanged (e.g. swapping two equal arguments) are left out."""
    source = path.read_text()
    baseline = ast.unparse(ast.parse(source))
    mutator = Mutator()
    mutator.visit(ast.parse(source))
    relative = str(path.relative_to(ROOT))
    mutants = [Mutant(relative, i, line, text, source=source) for i, (line, text) in enumerate(mutator.sites)]
    return baseline, [m for m in mutants if mutated_source(m) != baseline]


def mutated_source(mutant: Mutant) -> str:
    tree = Mutator(target=mutant.index).visit(ast.parse(mutant.source))
    return ast.unparse(ast.fix_missing_locations(tree))


# -- running ---------------------------------------------------------------------------------------------------------
def run_tests(scratch: Path, tests: list[str], log: Path, timeout: float) -> tuple[str, float]:
    """Fork a child that runs ``tests`` against the package in ``scratch``; 'killed', 'survived' or 'timeout'."""
    started = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: own process group (so a timeout ends spawned test processes too), output to the log
        try:
            os.setpgid(0, 0)
            with open(log, "w") as handle:
                os.dup2(handle.fileno(), 1)
                os.dup2(handle.fileno(), 2)
            sys.path.insert(0, str(scratch))
            os.environ["PYTHONPATH"] = os.pathsep.join([str(scratch), os.environ.get("PYTHONPATH", "")])
            os.chdir(ROOT)
            import pytest

            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests])
        except BaseException:  # noqa: BLE001 - any import error of the mutant is a failure
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(int(code))
    deadline = started + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return ("survived" if code == 0 else "killed"), time.perf_counter() - started
        if time.perf_counter() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.perf_counter() - started
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="List the mutants and exit.")
    parser.add_argument("--only", default="", help="Only files whose path contains this text.")
    parser.add_argument("--output", default=str(ROOT / "build" / "mutation"), help="Folder for results and logs.")
    parser.add_argument("--tests", default="", help="Comma-separated test files to use for every file instead.")
    parser.add_argument(
        "--survivors-of", default="", help="Only the mutants a previous results.jsonl lists as survived (a re-check)."
    )
    parser.add_argument("--timeout-factor", type=float, default=3.0, help="Timeout: factor x the baseline time.")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    targets = [path for path in TARGETS if args.only in str(path.relative_to(ROOT))]
    plans = {path: mutants_of(path) for path in targets}
    if args.survivors_of:
        previous = [json.loads(line) for line in Path(args.survivors_of).read_text().splitlines() if line.strip()]
        wanted = {(r["file"], r["index"]) for r in previous if r["status"] == "survived"}
        plans = {
            path: (baseline, [m for m in mutants if (m.file, m.index) in wanted])
            for path, (baseline, mutants) in plans.items()
        }
    if args.list:
        for _, mutants in plans.values():
            for mutant in mutants:
                print(f"{mutant.file}:{mutant.line}: #{mutant.index} {mutant.description}")
        print(f"{sum(len(m) for _, m in plans.values())} mutants in {len(plans)} files")
        return 0

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    for module in PRELOAD:  # imported once here, inherited by every forked child
        __import__(module)
    scratch = Path(tempfile.mkdtemp(prefix="growclip-mutation-"))
    try:
        shutil.copytree(PACKAGE, scratch / "growclip_hf", ignore=shutil.ignore_patterns("__pycache__"))
        for path, (baseline, _) in plans.items():  # the unparsed originals must pass first
            (scratch / path.relative_to(PACKAGE.parent)).write_text(baseline)
        results, baselines = [], {}
        with open(output / "results.jsonl", "w") as record:
            for path, (baseline, mutants) in plans.items():
                tests = args.tests.split(",") if args.tests else TESTS[path.parent.name]
                copy_path = scratch / path.relative_to(PACKAGE.parent)
                if tuple(tests) not in baselines:  # each set of tests must pass on the unmutated copy first
                    status, seconds = run_tests(scratch, tests, output / "baseline.log", timeout=1800)
                    if status != "survived":
                        print(f"the tests fail without any mutant (see {output / 'baseline.log'})")
                        return 2
                    baselines[tuple(tests)] = seconds
                timeout = args.timeout_factor * baselines[tuple(tests)] + 30
                print(f"{path.relative_to(ROOT)}: {len(mutants)} mutants, baseline {seconds:.0f} s", flush=True)
                for mutant in mutants:
                    copy_path.write_text(mutated_source(mutant))
                    log = output / f"{path.stem}-{mutant.index}.log"
                    mutant.status, mutant.seconds = run_tests(scratch, tests, log, timeout)
                    if mutant.status != "survived":
                        log.unlink(missing_ok=True)
                    record.write(json.dumps({k: v for k, v in asdict(mutant).items() if k != "source"}) + "\n")
                    record.flush()
                    mark = {"killed": ".", "timeout": "T", "survived": "S"}[mutant.status]
                    print(mark, end="", flush=True)
                    results.append(mutant)
                copy_path.write_text(baseline)
                print(flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    survivors = [m for m in results if m.status == "survived"]
    counts = {s: sum(m.status == s for m in results) for s in ("killed", "timeout", "survived")}
    print(
        f"\n{len(results)} mutants: {counts['killed']} killed, {counts['timeout']} timed out, {len(survivors)} survived"
    )
    for mutant in survivors:
        print(f"  {mutant.file}:{mutant.line}: #{mutant.index} {mutant.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
