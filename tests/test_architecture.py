"""The package's shape, held by a test: imports point one way (no cycles, even through imports inside
functions), no file over 350 lines, no function over 80, and the arrows a layer must never draw.

Modules are ``chargen.*`` (subpackages included) and ``app`` (app.py); every ``import`` and
``from ... import`` in a file counts, wherever it sits."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_LINES, MAX_FUNCTION_LINES = 350, 80
INFERENCE = {"chargen.predictor", "chargen.sample", "chargen.completion", "chargen.session", "chargen.blend",
             "chargen.subword_session", "chargen.faststep", "chargen.typists", "chargen.onnxstep", "chargen.onnx_graph",
             # looking inside a trained model: it reads a checkpoint and a text, never the training code
             "chargen.activations", "chargen.features", "chargen.connectivity", "chargen.exposure", "chargen.inside",
             "chargen.inside_html", "chargen.report", "chargen.plots",
             # the keyboard learning its user
             "chargen.adapt", "chargen.learner", "chargen.lexicon", "chargen.profile", "chargen.typed_loss"}
# imports that may sit inside a function: dependencies that are optional (not in the library's
# own requirements), loaded only by the feature that needs them
OPTIONAL = {"gradio_client", "playwright", "matplotlib", "onnx", "onnxruntime",
            "termios", "tty",             # POSIX-only: the interactive terminal keyboard
            "kebbie", "spellchecker", "symspellpy"}   # the typing benchmark's protocol and baselines
# and the web app itself, which needs gradio (the [app] extra): only `chargen app` loads it
OPTIONAL_OURS = {"chargen.cli": {"chargen.web.server"}}


def module_files() -> dict[str, Path]:
    files = {"app": ROOT / "app.py"}
    for path in sorted((ROOT / "chargen").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import in the file; relative imports
    resolved, ``from pkg import mod`` counted as pkg.mod when that is a module of ours."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours = set(module_files())
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in ours else base, child.lineno, in_function))
            visit(child, inner)
    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    ours = module_files()
    return {name: {m for m, _, _ in imports(name, path) if m in ours and m != name} for name, path in ours.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = dfs(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None
    for node in sorted(edges):
        if node not in state:
            cycle = dfs(node)
            if cycle:
                return cycle
    return None


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_imports_point_one_way():
    assert find_cycle(graph()) is None, find_cycle(graph())


def test_the_cycle_check_finds_a_cycle_when_one_is_introduced():
    edges = graph()
    assert find_cycle({**edges, "chargen.model": edges["chargen.model"] | {"chargen.predictor"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def _web(name: str) -> bool:
    return name == "app" or name.startswith("chargen.web")


@pytest.mark.parametrize("source,targets,transitive", [
    ("chargen.model", {"chargen.data", "chargen.tokenizer"}, True),
    ("chargen.tokenizer", {"chargen.model"}, True),
    ("chargen.checkpoint", {"chargen.train"}, True),
    *[(m, {"chargen.train", "chargen.data"}, True) for m in sorted(INFERENCE)],
])
def test_forbidden_arrows(source, targets, transitive):
    edges = graph()
    assert source in edges, f"{source} is gone: update the architecture test with the new layout"
    reached = reachable(edges, source) if transitive else edges[source]
    assert not reached & targets, f"{source} imports {sorted(reached & targets)}"


def test_the_web_ui_calls_the_library_not_torch_or_the_model():
    for name, path in module_files().items():
        if _web(name):
            bad = [(m, line) for m, line, _ in imports(name, path)
                   if m.split(".")[0] == "torch" or m in ("chargen.model", "chargen.faststep")]
            assert not bad, f"{name} reaches through the library: {bad}"


def test_imports_inside_functions_are_only_optional_dependencies():
    for name, path in module_files().items():
        inner = [(m, line) for m, line, inside in imports(name, path)
                 if inside and m.split(".")[0] not in OPTIONAL and m not in OPTIONAL_OURS.get(name, ())]
        assert not inner, f"{path.relative_to(ROOT)}: imports inside functions {inner}"


def test_files_and_functions_are_small():
    for name, path in module_files().items():
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines"


def test_every_module_says_what_it_owns():
    for name, path in module_files().items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{path.relative_to(ROOT)} has no module docstring naming its job"
