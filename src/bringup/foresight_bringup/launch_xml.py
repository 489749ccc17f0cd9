"""Strict parser for the subset of the ROS 2 launch XML front end that the stack uses.

Why our own parser: `launch`/`launch_ros` are not installable from PyPI, yet the scenario
launch files in launch/ must stay real `ros2 launch` files. This module reads the same files
and returns the list of node processes to start, with the same semantics as ros2 launch for
everything it accepts (sequential evaluation, unscoped `<include>`, scoped `<group>`,
namespace pushing, parameter order). Anything outside the documented subset
(docs/launch_subset.md) is rejected with a `LaunchFileError` naming file, line, element and
what is allowed, so a file never silently means something else here than under ros2 launch.

No rclpy import: the parser is plain Python and unit-tested without a ROS graph.
"""

from __future__ import annotations

import os
import re
import shlex
import xml.parsers.expat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LaunchDescription",
    "LaunchFileError",
    "NodeSpec",
    "ParamFile",
    "find_package_share",
    "parse_launch_arguments",
    "parse_launch_file",
]


class LaunchFileError(Exception):
    """A launch file uses something outside the supported subset, or is inconsistent.

    The message always names the file and, where it comes from an element, the line and the
    element; `file`, `line` and `element` hold the same facts for programmatic use.
    """

    def __init__(
        self, message: str, file: Path | str | None = None, line: int | None = None,
        element: str | None = None, included_from: tuple[tuple[Path, int], ...] = (),
    ) -> None:
        self.file = Path(file) if file is not None else None
        self.line = line
        self.element = element
        self.reason = message
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        what = f"<{element}>: " if element else ""
        chain = "".join(f"\n  included from {f}:{ln}" for f, ln in reversed(included_from))
        super().__init__(f"{where}{what}{message}{chain}")


@dataclass(frozen=True)
class ParamFile:
    """A YAML parameters file (`<param from="..."/>`), passed as `--params-file`."""

    path: str


@dataclass(frozen=True)
class NodeSpec:
    """One node process as ros2 launch would start it.

    `parameters` keeps the file order of `<param>` elements (files and name/value dicts
    interleaved), because rcl applies them in command-line order and later ones win.
    `env` holds the `<set_env>` values in scope followed by the node's own `<env>` entries.
    `required` is true for `on_exit="shutdown"`: if this node exits, everything stops.
    """

    package: str
    executable: str
    name: str
    namespace: str
    parameters: tuple[ParamFile | dict[str, str], ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    required: bool = False
    output: str = "log"

    @property
    def fully_qualified_name(self) -> str:
        """`/ns/name`, the identity ROS uses for the node (and for YAML keys)."""
        return f"{self.namespace.rstrip('/')}/{self.name}"


@dataclass(frozen=True)
class LaunchDescription:
    """Result of parsing: the nodes in launch order, the declared arguments' final values
    (top-level and included files) and every file that was read."""

    nodes: tuple[NodeSpec, ...]
    arguments: dict[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()


# --------------------------------------------------------------------------- XML with lines

@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)
    text: str = ""


def _read_xml(path: Path) -> _Element:
    """Parse with expat so every element keeps its line number (ElementTree drops them)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LaunchFileError(f"cannot read launch file: {exc.strerror}", path) from exc
    parser = xml.parsers.expat.ParserCreate()
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = _Element(tag, dict(attrs), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if stack:
            stack[-1].text += text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise LaunchFileError(
            f"malformed XML: {xml.parsers.expat.ErrorString(exc.code)}", path, exc.lineno
        ) from exc
    return roots[0]


# --------------------------------------------------------------------------- substitutions

@dataclass(frozen=True)
class _Sub:
    """One `$(name arg...)`; each argument is itself a list of text and substitutions."""

    name: str
    args: tuple[tuple[str | _Sub, ...], ...]


_Parts = tuple["str | _Sub", ...]

_SUBSTITUTIONS = {
    "var": (1, 1, "$(var NAME)"),
    "find-pkg-share": (1, 1, "$(find-pkg-share PKG)"),
    "dirname": (0, 0, "$(dirname)"),
    "env": (1, 2, "$(env NAME [DEFAULT])"),
}
_SUPPORTED_SUBS = ", ".join(usage for _, _, usage in _SUBSTITUTIONS.values())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class _SubstitutionSyntaxError(ValueError):
    """Raised by the tokenizer; the caller adds file, line and attribute."""


def _parse_template(text: str) -> _Parts:
    """Split an attribute value into literal text and (nested) substitutions."""
    parts, _ = _parse_fragments(text, 0, inside=False)
    return parts


def _parse_fragments(text: str, pos: int, inside: bool) -> tuple[_Parts, int]:
    parts: list[str | _Sub] = []
    literal: list[str] = []
    while pos < len(text):
        if text.startswith("$(", pos):
            if literal:
                parts.append("".join(literal))
                literal = []
            sub, pos = _parse_substitution(text, pos + 2)
            parts.append(sub)
        elif inside and (text[pos].isspace() or text[pos] == ")"):
            break
        elif inside and text[pos] in "'\"":
            quote = text[pos]
            end = pos + 1
            quoted: list[str | _Sub] = []
            chunk: list[str] = []
            while True:
                if end >= len(text):
                    raise _SubstitutionSyntaxError(f"unterminated quote {quote} in {text!r}")
                if text[end] == quote:
                    break
                if text.startswith("$(", end):
                    if chunk:
                        quoted.append("".join(chunk))
                        chunk = []
                    sub, end = _parse_substitution(text, end + 2)
                    quoted.append(sub)
                    continue
                chunk.append(text[end])
                end += 1
            if chunk:
                quoted.append("".join(chunk))
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.extend(quoted)
            pos = end + 1
        else:
            literal.append(text[pos])
            pos += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts), pos


def _parse_substitution(text: str, pos: int) -> tuple[_Sub, int]:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    match = _IDENT.match(text, pos)
    if not match:
        raise _SubstitutionSyntaxError(f"expected a substitution name after '$(' in {text!r}")
    name = match.group(0)
    pos = match.end()
    args: list[_Parts] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise _SubstitutionSyntaxError(f"unterminated '$({name}' in {text!r}")
        if text[pos] == ")":
            return _Sub(name, tuple(args)), pos + 1
        arg, pos = _parse_fragments(text, pos, inside=True)
        args.append(arg)


def find_package_share(package: str, ament_prefix_path: str) -> Path | None:
    """`<prefix>/share/<package>` of the first prefix whose ament index lists the package,
    the same lookup as ament_index_python's get_package_share_directory."""
    for prefix in ament_prefix_path.split(os.pathsep):
        if not prefix:
            continue
        marker = Path(prefix, "share", "ament_index", "resource_index", "packages", package)
        if marker.is_file():
            return Path(prefix, "share", package)
    return None


# --------------------------------------------------------------------------- parser state

_BOOL = {"true": True, "1": True, "false": False, "0": False}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NS_TOKEN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# push_ros_namespace is launch_ros's alternative spelling; both map to do_push_ros_namespace.
_ACTION_TAGS = ("arg", "let", "node", "include", "group", "set_env", "push-ros-namespace",
                "push_ros_namespace")
_ALLOWED = {
    "arg": ({"name"}, {"default", "description"}),
    "choice": ({"value"}, set()),
    "let": ({"name", "value"}, {"if", "unless"}),
    "node": ({"pkg", "exec", "name"},
             {"namespace", "output", "respawn", "args", "on_exit", "if", "unless"}),
    "param": (set(), {"from", "name", "value"}),
    "remap": ({"from", "to"}, set()),
    "env": ({"name", "value"}, set()),
    "include": ({"file"}, {"if", "unless"}),
    "include-arg": ({"name", "value"}, set()),
    "group": (set(), {"scoped", "if", "unless"}),
    "set_env": ({"name", "value"}, {"if", "unless"}),
    "push-ros-namespace": ({"namespace"}, {"if", "unless"}),
}
_CHILDREN = {
    "launch": _ACTION_TAGS,
    "group": _ACTION_TAGS,
    "node": ("param", "remap", "env"),
    "include": ("arg",),
    "arg": ("choice",),
}
_OUTPUTS = ("screen", "log", "both")


@dataclass
class _Scope:
    """What ros2 launch keeps in the launch context: configurations, environment, namespace.

    A scoped `<group>` works on a copy; `<include>` shares its caller's scope (ros2 launch
    includes are unscoped: their arguments and set_env stay visible after the include).
    """

    variables: dict[str, str]
    env: dict[str, str]
    namespace: str | None = None

    def copy(self) -> _Scope:
        return _Scope(dict(self.variables), dict(self.env), self.namespace)


@dataclass(frozen=True)
class _File:
    """The launch file being read and how it was reached."""

    path: Path
    given_args: frozenset[str] | None  # args passed by <include>; None for the top level
    chain: tuple[tuple[Path, int], ...]  # (file, line) of each enclosing <include>


class _Parser:
    """One parse run; holds everything that must not be global (nodes found, names seen)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.nodes: list[NodeSpec] = []
        self.node_lines: dict[str, tuple[Path, int]] = {}
        self.files: list[Path] = []
        self.arguments: dict[str, str] = {}

    # ----------------------------------------------------------------- errors and checks

    def error(self, message: str, file: _File, element: _Element | None = None,
              tag: str | None = None) -> LaunchFileError:
        return LaunchFileError(
            message, file.path, element.line if element else None,
            tag or (element.tag if element else None), file.chain,
        )

    def check_attrs(self, element: _Element, kind: str, file: _File) -> None:
        required, optional = _ALLOWED[kind]
        allowed = required | optional
        for name in element.attrs:
            if name not in allowed:
                hint = ""
                if kind == "arg" and name == "choices":
                    hint = " (ros2 launch XML declares choices as <choice value=\"...\"/>)"
                raise self.error(
                    f"unsupported attribute '{name}'{hint}; allowed: "
                    f"{', '.join(sorted(allowed))}", file, element)
        for name in sorted(required):
            if name not in element.attrs:
                raise self.error(f"missing required attribute '{name}'", file, element)

    def check_children(self, element: _Element, file: _File) -> None:
        allowed = _CHILDREN.get(element.tag, ())
        if element.text.strip():
            raise self.error("text content is not allowed here", file, element)
        for child in element.children:
            if child.tag not in allowed:
                what = f"allowed: {', '.join(allowed)}" if allowed else "no children allowed"
                raise self.error(
                    f"unsupported element <{child.tag}> inside <{element.tag}>; {what}",
                    file, child)

    # ----------------------------------------------------------------- substitutions

    def lookup_env(self, name: str, scope: _Scope) -> str | None:
        if name in scope.env:
            return scope.env[name]
        return self.environ.get(name)

    def subst(self, element: _Element, attr: str, scope: _Scope, file: _File) -> str:
        """Evaluate one attribute's value with every substitution resolved."""
        return "".join(value for _, value in self.subst_parts(element, attr, scope, file))

    def subst_parts(self, element: _Element, attr: str, scope: _Scope, file: _File
                    ) -> list[tuple[bool, str]]:
        """Top-level pieces of an attribute as (is_literal_text, value) pairs; `args`
        splits only the literal pieces on whitespace, like ros2 launch."""
        try:
            parts = _parse_template(element.attrs[attr])
        except _SubstitutionSyntaxError as exc:
            raise self.error(f"attribute '{attr}': {exc}", file, element) from exc
        return [
            (True, p) if isinstance(p, str) else (False, self.eval_sub(p, element, attr,
                                                                        scope, file))
            for p in parts
        ]

    def eval_parts(self, parts: _Parts, element: _Element, attr: str, scope: _Scope,
                   file: _File) -> str:
        return "".join(
            p if isinstance(p, str) else self.eval_sub(p, element, attr, scope, file)
            for p in parts
        )

    def eval_sub(self, sub: _Sub, element: _Element, attr: str, scope: _Scope,
                 file: _File) -> str:
        if sub.name not in _SUBSTITUTIONS:
            raise self.error(
                f"attribute '{attr}': unsupported substitution $({sub.name} ...); "
                f"supported: {_SUPPORTED_SUBS}", file, element)
        low, high, usage = _SUBSTITUTIONS[sub.name]
        if not low <= len(sub.args) <= high:
            raise self.error(
                f"attribute '{attr}': $({sub.name}) takes {low}-{high} argument(s), got "
                f"{len(sub.args)}; usage: {usage}", file, element)
        args = [self.eval_parts(a, element, attr, scope, file) for a in sub.args]
        if sub.name == "var":
            if args[0] not in scope.variables:
                known = ", ".join(sorted(scope.variables)) or "none"
                raise self.error(
                    f"attribute '{attr}': $(var {args[0]}) is not defined here; defined: "
                    f"{known}", file, element)
            return scope.variables[args[0]]
        if sub.name == "dirname":
            return str(file.path.parent)
        if sub.name == "env":
            value = self.lookup_env(args[0], scope)
            if value is None:
                if len(args) == 2:
                    return args[1]
                raise self.error(
                    f"attribute '{attr}': environment variable {args[0]} is not set "
                    f"(give a default: $(env {args[0]} DEFAULT))", file, element)
            return value
        prefixes = self.lookup_env("AMENT_PREFIX_PATH", scope) or ""
        share = find_package_share(args[0], prefixes)
        if share is None:
            raise self.error(
                f"attribute '{attr}': $(find-pkg-share {args[0]}): package not found in the "
                f"ament index of AMENT_PREFIX_PATH={prefixes!r}", file, element)
        return str(share)

    def optional(self, element: _Element, attr: str, scope: _Scope, file: _File
                 ) -> str | None:
        return self.subst(element, attr, scope, file) if attr in element.attrs else None

    def boolean(self, element: _Element, attr: str, scope: _Scope, file: _File) -> bool:
        value = self.subst(element, attr, scope, file)
        if value.strip().lower() not in _BOOL:
            raise self.error(
                f"attribute '{attr}' must be true, false, 1 or 0, got {value!r}",
                file, element)
        return _BOOL[value.strip().lower()]

    def included(self, element: _Element, scope: _Scope, file: _File) -> bool:
        """Evaluate `if`/`unless` (ros2 launch forbids both on one element)."""
        if "if" in element.attrs and "unless" in element.attrs:
            raise self.error("'if' and 'unless' cannot be used together", file, element)
        if "if" in element.attrs:
            return self.boolean(element, "if", scope, file)
        if "unless" in element.attrs:
            return not self.boolean(element, "unless", scope, file)
        return True

    # ----------------------------------------------------------------- files and actions

    def parse_file(self, path: Path, scope: _Scope, file: _File) -> set[str]:
        """Run one launch file in `scope`; returns every argument name it (and the files it
        included) declares, so callers can reject arguments nobody declared."""
        if path.suffix != ".xml":
            raise self.error(
                "only XML launch files are supported (the file name must end in .xml)", file)
        if any(path == f for f, _ in file.chain):
            raise self.error("include cycle", file)
        self.files.append(path)
        root = _read_xml(path)
        if root.tag != "launch":
            raise LaunchFileError(
                f"the root element must be <launch>, found <{root.tag}>", path, root.line,
                root.tag, file.chain)
        if root.attrs:
            raise self.error(
                f"unsupported attribute '{next(iter(root.attrs))}'; <launch> takes none",
                file, root)
        declared = _static_declared_args(root)
        self.check_children(root, file)
        self.run_actions(root.children, scope, file, declared, conditional=False)
        return declared

    def run_actions(self, elements: Iterable[_Element], scope: _Scope, file: _File,
                    declared: set[str], conditional: bool) -> None:
        for element in elements:
            handler = getattr(self, "do_" + element.tag.replace("-", "_"))
            handler(element, scope, file, declared, conditional)

    def do_arg(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
               conditional: bool) -> None:
        """`<arg>`: a value given by the caller or an include wins over the default."""
        self.check_attrs(element, "arg", file)
        self.check_children(element, file)
        choices = []
        for choice in element.children:
            self.check_attrs(choice, "choice", file)
            self.check_children(choice, file)
            choices.append(self.subst(choice, "value", scope, file))
        name = self.subst(element, "name", scope, file)
        declared.add(name)
        # ros2 launch: an included file's argument without default must be passed
        # explicitly by the <include>, even if the caller's scope happens to define it.
        given_args = file.given_args
        if (given_args is not None and not conditional and "default" not in element.attrs
                and name not in given_args):
            given = ", ".join(sorted(given_args)) or "none"
            raise self.error(
                f"argument '{name}' has no default and the <include> does not pass it "
                f"(passed: {given})", file, element)
        if name not in scope.variables:
            if "default" not in element.attrs:
                raise self.error(
                    f"argument '{name}' is required (no default) and was not given; pass "
                    f"{name}:=VALUE", file, element)
            scope.variables[name] = self.subst(element, "default", scope, file)
        value = scope.variables[name]
        if choices and value not in choices:
            raise self.error(
                f"argument '{name}' is {value!r}; choices: {', '.join(choices)}",
                file, element)
        self.arguments[name] = value

    def do_let(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
               conditional: bool) -> None:
        self.check_attrs(element, "let", file)
        self.check_children(element, file)
        if self.included(element, scope, file):
            name = self.subst(element, "name", scope, file)
            scope.variables[name] = self.subst(element, "value", scope, file)

    def do_set_env(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
                   conditional: bool) -> None:
        self.check_attrs(element, "set_env", file)
        self.check_children(element, file)
        if self.included(element, scope, file):
            name = self.subst(element, "name", scope, file)
            scope.env.pop(name, None)  # re-insert so the latest setting comes last
            scope.env[name] = self.subst(element, "value", scope, file)

    def do_push_ros_namespace(self, element: _Element, scope: _Scope, file: _File,
                              declared: set[str], conditional: bool) -> None:
        self.check_attrs(element, "push-ros-namespace", file)  # either spelling
        self.check_children(element, file)
        if self.included(element, scope, file):
            pushed = self.subst(element, "namespace", scope, file)
            scope.namespace = self.namespace(scope.namespace, pushed, element, file)

    def do_group(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
                 conditional: bool) -> None:
        self.check_attrs(element, "group", file)
        self.check_children(element, file)
        if not self.included(element, scope, file):
            return
        scoped = True
        if "scoped" in element.attrs:
            scoped = self.boolean(element, "scoped", scope, file)
        inner = scope.copy() if scoped else scope
        is_conditional = conditional or "if" in element.attrs or "unless" in element.attrs
        self.run_actions(element.children, inner, file, declared, is_conditional)

    def do_include(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
                   conditional: bool) -> None:
        self.check_attrs(element, "include", file)
        self.check_children(element, file)
        for arg in element.children:
            self.check_attrs(arg, "include-arg", file)
            self.check_children(arg, file)
        if not self.included(element, scope, file):
            self.declare_skipped_include(element, scope, file, declared)
            return
        path = self.include_path(element, scope, file)
        # Include arguments are set in the caller's scope, in order (ros2 semantics).
        given: list[tuple[str, int]] = []
        for arg in element.children:
            name = self.subst(arg, "name", scope, file)
            scope.variables[name] = self.subst(arg, "value", scope, file)
            given.append((name, arg.line))
        inner = _File(path, frozenset(n for n, _ in given),
                      file.chain + ((file.path, element.line),))
        names = self.parse_file(path, scope, inner)
        declared.update(names)
        for name, line in given:
            if name not in names:
                raise LaunchFileError(
                    f"argument '{name}' is not declared by {path}; declared: "
                    f"{', '.join(sorted(names)) or 'none'}", file.path, line, "arg",
                    file.chain)

    def include_path(self, element: _Element, scope: _Scope, file: _File) -> Path:
        raw = self.subst(element, "file", scope, file)
        path = Path(raw)
        # ros2 launch resolves a relative include against the working directory.
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_file():
            raise self.error(
                f"included file {raw!r} does not exist (use $(dirname)/... or "
                f"$(find-pkg-share PKG)/... for a path that does not depend on the working "
                f"directory)", file, element)
        return path.resolve()

    def declare_skipped_include(self, element: _Element, scope: _Scope, file: _File,
                                declared: set[str]) -> None:
        """Count the arguments of an include switched off by if/unless as declared, so
        `name:=value` meant for it is not reported as unknown (best effort)."""
        try:
            path = self.include_path(element, scope, file)
            declared.update(_static_declared_args(_read_xml(path)))
        except LaunchFileError:
            pass

    def do_node(self, element: _Element, scope: _Scope, file: _File, declared: set[str],
                conditional: bool) -> None:
        self.check_attrs(element, "node", file)
        self.check_children(element, file)
        if not self.included(element, scope, file):
            return
        package = self.subst(element, "pkg", scope, file)
        executable = self.subst(element, "exec", scope, file)
        name = self.subst(element, "name", scope, file)
        if not _NAME_RE.match(name):
            raise self.error(
                f"node name {name!r} is invalid (letters, digits and '_', not starting "
                f"with a digit)", file, element)
        own_ns = self.optional(element, "namespace", scope, file)
        if own_ns:
            namespace = self.namespace(scope.namespace, own_ns, element, file)
        else:
            namespace = scope.namespace or "/"
        output = self.optional(element, "output", scope, file) or "log"
        if output not in _OUTPUTS:
            raise self.error(
                f"output must be one of {', '.join(_OUTPUTS)}, got {output!r}", file, element)
        if "respawn" in element.attrs and self.boolean(element, "respawn", scope, file):
            raise self.error(
                "respawn=\"true\" is not supported by the foresight runner (a dead node "
                "ends the episode); use respawn=\"false\" or leave it out", file, element)
        required = False
        if "on_exit" in element.attrs:
            on_exit = self.subst(element, "on_exit", scope, file)
            if on_exit != "shutdown":
                raise self.error(
                    f"on_exit={on_exit!r} is not supported; allowed: shutdown",
                    file, element)
            required = True
        arguments: tuple[str, ...] = ()
        if "args" in element.attrs:
            arguments = self.split_args(element, scope, file)
        parameters, remappings, node_env = self.node_children(element, scope, file)
        env = dict(scope.env)
        for key, value in node_env:
            env.pop(key, None)
            env[key] = value
        spec = NodeSpec(
            package=package, executable=executable, name=name, namespace=namespace,
            parameters=parameters, remappings=remappings, env=tuple(env.items()),
            arguments=arguments, required=required, output=output,
        )
        fqn = spec.fully_qualified_name
        if fqn in self.node_lines:
            first_file, first_line = self.node_lines[fqn]
            raise self.error(
                f"a node named {fqn} is already launched at {first_file}:{first_line}; "
                f"node names must be unique", file, element)
        self.node_lines[fqn] = (file.path, element.line)
        self.nodes.append(spec)

    def node_children(self, element: _Element, scope: _Scope, file: _File) -> tuple[
            tuple[ParamFile | dict[str, str], ...], tuple[tuple[str, str], ...],
            list[tuple[str, str]]]:
        parameters: list[ParamFile | dict[str, str]] = []
        remappings: list[tuple[str, str]] = []
        env: list[tuple[str, str]] = []
        for child in element.children:
            if child.tag == "param":
                self.check_attrs(child, "param", file)
                self.check_children(child, file)
                entry = self.param(child, scope, file)
                if isinstance(entry, dict) and parameters and isinstance(parameters[-1], dict):
                    parameters[-1].update(entry)  # keep order relative to param files
                else:
                    parameters.append(entry)
            elif child.tag == "remap":
                self.check_attrs(child, "remap", file)
                self.check_children(child, file)
                remappings.append((self.subst(child, "from", scope, file),
                                   self.subst(child, "to", scope, file)))
            else:
                self.check_attrs(child, "env", file)
                self.check_children(child, file)
                env.append((self.subst(child, "name", scope, file),
                            self.subst(child, "value", scope, file)))
        return tuple(parameters), tuple(remappings), env

    def param(self, element: _Element, scope: _Scope, file: _File) -> ParamFile | dict[str, str]:
        """`<param from>` or `<param name value>` (nothing else: no nesting, no value-sep)."""
        keys = set(element.attrs)
        if keys == {"from"}:
            raw = self.subst(element, "from", scope, file)
            path = Path(raw) if Path(raw).is_absolute() else Path.cwd() / raw
            if not path.is_file():
                raise self.error(f"parameter file {raw!r} does not exist", file, element)
            return ParamFile(str(path.resolve()))
        if keys == {"name", "value"}:
            return {self.subst(element, "name", scope, file):
                    self.subst(element, "value", scope, file)}
        raise self.error(
            "use either <param from=\"FILE\"/> or <param name=\"N\" value=\"V\"/>",
            file, element)

    def split_args(self, element: _Element, scope: _Scope, file: _File) -> tuple[str, ...]:
        """Split `args` like ros2 launch: literal text on whitespace (shell quoting rules),
        substitution results never split."""
        result: list[str] = []
        current: list[str] = []
        pending = False
        for literal, value in self.subst_parts(element, "args", scope, file):
            if not literal:
                current.append(value)
                pending = True
                continue
            try:
                tokens = shlex.split(value)
            except ValueError as exc:
                raise self.error(f"attribute 'args': {exc}", file, element) from exc
            if value[:1].isspace() and pending:
                result.append("".join(current))
                current, pending = [], False
            for index, token in enumerate(tokens):
                if index > 0:
                    result.append("".join(current))
                    current = []
                current.append(token)
                pending = True
            if value[-1:].isspace() and pending:
                result.append("".join(current))
                current, pending = [], False
        if pending:
            result.append("".join(current))
        return tuple(result)

    def namespace(self, base: str | None, pushed: str, element: _Element, file: _File
                  ) -> str:
        """Compose namespaces as launch_ros does: absolute wins, relative is appended."""
        if pushed.startswith("/") or not base:
            combined = pushed
        else:
            combined = f"{base.rstrip('/')}/{pushed}"
        combined = "/" + combined.strip("/")
        tokens = [t for t in combined.split("/") if t] if combined != "/" else []
        if "//" in pushed or any(not _NS_TOKEN_RE.match(t) for t in tokens):
            raise self.error(
                f"namespace {pushed!r} is invalid (tokens of letters, digits and '_', "
                f"separated by '/')", file, element)
        return combined


def _static_declared_args(root: _Element) -> set[str]:
    """Names of every `<arg>` declaration in a file, including inside groups whose
    condition is false (ros2 launch counts those as declared too)."""
    names: set[str] = set()
    for element in root.children:
        if element.tag == "arg" and "$(" not in element.attrs.get("name", "$("):
            names.add(element.attrs["name"])
        elif element.tag == "group":
            names |= _static_declared_args(element)
    return names


def parse_launch_arguments(tokens: Iterable[str]) -> dict[str, str]:
    """Turn command-line `name:=value` tokens into a dict (as `ros2 launch` accepts them)."""
    result: dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition(":=")
        if not sep or not name:
            raise LaunchFileError(f"launch argument {token!r} is not of the form NAME:=VALUE")
        result[name] = value
    return result


def parse_launch_file(
    path: str | os.PathLike[str], launch_args: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LaunchDescription:
    """Parse a launch file into the nodes ros2 launch would start.

    `launch_args` are the caller's `name:=value` arguments: they override the defaults of
    `<arg>` declarations anywhere in the include tree; a name nobody declares is an error.
    `environ` is the environment used by `$(env)` and `$(find-pkg-share)` (default: this
    process's environment); `<set_env>` values in scope take precedence over it.
    """
    given = dict(launch_args or {})
    top = Path(path)
    top = (top if top.is_absolute() else Path.cwd() / top).resolve()
    parser = _Parser(os.environ if environ is None else environ)
    scope = _Scope(variables=dict(given), env={})
    declared = parser.parse_file(top, scope, _File(top, None, ()))
    unknown = sorted(set(given) - declared)
    if unknown:
        raise LaunchFileError(
            f"unknown launch argument(s) {', '.join(unknown)}; declared: "
            f"{', '.join(sorted(declared)) or 'none'}", top)
    return LaunchDescription(tuple(parser.nodes), dict(parser.arguments), tuple(parser.files))
