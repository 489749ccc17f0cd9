"""Unit tests of the launch XML subset parser (no ROS graph, small files in tmp_path)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from foresight_bringup.launch_xml import (
    LaunchFileError,
    NodeSpec,
    ParamFile,
    find_package_share,
    parse_launch_arguments,
    parse_launch_file,
)


def write(folder: Path, name: str, body: str) -> Path:
    """Write a launch file; `body` goes inside <launch> unless it already has one."""
    text = textwrap.dedent(body).strip()
    if not text.startswith("<launch"):
        text = "<launch>\n" + text + "\n</launch>"
    path = folder / name
    path.write_text(text + "\n")
    return path


def parse(path: Path, args: dict[str, str] | None = None,
          environ: dict[str, str] | None = None) -> tuple[NodeSpec, ...]:
    return parse_launch_file(path, args or {}, environ=environ or {}).nodes


def error_of(path: Path, args: dict[str, str] | None = None,
             environ: dict[str, str] | None = None) -> LaunchFileError:
    with pytest.raises(LaunchFileError) as info:
        parse_launch_file(path, args or {}, environ=environ or {})
    return info.value


def fake_prefix(root: Path, *packages: str) -> Path:
    """An install prefix with an ament index entry and share/ folder per package."""
    index = root / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    for package in packages:
        (index / package).write_text("")
        (root / "share" / package / "config").mkdir(parents=True)
    return root


# ------------------------------------------------------------------------- nodes

def test_node_with_every_supported_attribute_and_child(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("node:\n  ros__parameters: {}\n")
    path = write(tmp_path, "a.launch.xml", """
        <node pkg="foresight_planner" exec="planner_node" name="planner" namespace="robot"
              output="screen" respawn="false" args="--flag 'two words' last"
              on_exit="shutdown">
          <param from="$(dirname)/params.yaml"/>
          <param name="decision_mode" value="world_model"/>
          <param name="horizon" value="1.5"/>
          <remap from="camera/image" to="/cam/image_raw"/>
          <env name="NODE_ONLY" value="yes"/>
        </node>
    """)
    (node,) = parse(path)
    assert node == NodeSpec(
        package="foresight_planner", executable="planner_node", name="planner",
        namespace="/robot",
        parameters=(ParamFile(str(params)), {"decision_mode": "world_model", "horizon": "1.5"}),
        remappings=(("camera/image", "/cam/image_raw"),),
        env=(("NODE_ONLY", "yes"),),
        arguments=("--flag", "two words", "last"),
        required=True, output="screen",
    )
    assert node.fully_qualified_name == "/robot/planner"


def test_node_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", '<node pkg="p" exec="e" name="n"/>')
    (node,) = parse(path)
    assert (node.namespace, node.required, node.output, node.parameters, node.arguments) == (
        "/", False, "log", (), ())


def test_parameter_order_keeps_files_between_values(tmp_path: Path) -> None:
    """rcl applies parameters in command-line order, so the order must survive parsing."""
    for name in ("base.yaml", "override.yaml"):
        (tmp_path / name).write_text("{}\n")
    path = write(tmp_path, "a.launch.xml", """
        <node pkg="p" exec="e" name="n">
          <param from="$(dirname)/base.yaml"/>
          <param name="a" value="1"/>
          <param from="$(dirname)/override.yaml"/>
          <param name="b" value="2"/>
        </node>
    """)
    (node,) = parse(path)
    assert node.parameters == (
        ParamFile(str(tmp_path / "base.yaml")), {"a": "1"},
        ParamFile(str(tmp_path / "override.yaml")), {"b": "2"})


def test_args_split_like_ros2_launch(tmp_path: Path) -> None:
    """Literal text splits on whitespace; a substituted value stays one argument."""
    path = write(tmp_path, "a.launch.xml", """
        <let name="spaced" value="a b"/>
        <node pkg="p" exec="e" name="n" args="--x=$(var spaced) -y  $(var spaced)z"/>
    """)
    (node,) = parse(path)
    assert node.arguments == ("--x=a b", "-y", "a bz")


def test_push_ros_namespace_both_spellings_and_absolute(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <group>
          <push-ros-namespace namespace="robot"/>
          <node pkg="p" exec="e" name="a"/>
          <node pkg="p" exec="e" name="b" namespace="arm"/>
          <node pkg="p" exec="e" name="c" namespace="/abs"/>
          <group>
            <push_ros_namespace namespace="inner"/>
            <node pkg="p" exec="e" name="d"/>
          </group>
        </group>
        <node pkg="p" exec="e" name="e"/>
    """)
    assert [n.fully_qualified_name for n in parse(path)] == [
        "/robot/a", "/robot/arm/b", "/abs/c", "/robot/inner/d", "/e"]


def test_duplicate_node_name_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <node pkg="p" exec="e" name="n"/>
        <node pkg="p" exec="e" name="n"/>
    """)
    err = error_of(path)
    assert err.line == 3 and "already launched" in str(err) and ":2" in str(err)


# ------------------------------------------------------------------------- arguments

def test_arg_default_override_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <arg name="mode" default="reactive" description="decision mode">
          <choice value="reactive"/>
          <choice value="world_model"/>
        </arg>
        <node pkg="p" exec="e" name="n" args="$(var mode)"/>
    """)
    assert parse(path)[0].arguments == ("reactive",)
    description = parse_launch_file(path, {"mode": "world_model"}, environ={})
    assert description.nodes[0].arguments == ("world_model",)
    assert description.arguments == {"mode": "world_model"}
    err = error_of(path, {"mode": "random"})
    assert err.line == 2 and "choices: reactive, world_model" in str(err)


def test_choices_attribute_is_rejected_with_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", '<arg name="m" default="a" choices="a|b"/>')
    err = error_of(path)
    assert err.line == 2 and err.element == "arg" and "<choice value" in str(err)


def test_required_arg_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", '<arg name="seed"/>')
    err = error_of(path)
    assert "'seed' is required" in str(err) and err.line == 2
    assert parse_launch_file(path, {"seed": "3"}, environ={}).arguments == {"seed": "3"}


def test_unknown_caller_arg_lists_declared(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <arg name="seed" default="0"/>
        <arg name="mode" default="reactive"/>
    """)
    err = error_of(path, {"sede": "1"})
    assert str(err) == f"{path}: unknown launch argument(s) sede; declared: mode, seed"


def test_let_and_var_are_sequential(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <let name="x" value="first"/>
        <node pkg="p" exec="e" name="a" args="$(var x)"/>
        <let name="x" value="$(var x)-second"/>
        <node pkg="p" exec="e" name="b" args="$(var x)"/>
    """)
    assert [n.arguments for n in parse(path)] == [("first",), ("first-second",)]


def test_parse_launch_arguments() -> None:
    assert parse_launch_arguments(["a:=1", "b:=x:=y", "c:="]) == {"a": "1", "b": "x:=y",
                                                                   "c": ""}
    with pytest.raises(LaunchFileError, match="NAME:=VALUE"):
        parse_launch_arguments(["a=1"])


# ------------------------------------------------------------------------- substitutions

def test_env_substitution_with_default_and_nesting(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <let name="which" value="HOME_DIR"/>
        <node pkg="p" exec="e" name="n"
              args="$(env $(var which)) $(env MISSING 'fallback value') $(env MISSING '')"/>
    """)
    (node,) = parse(path, environ={"HOME_DIR": "/home/x"})
    assert node.arguments == ("/home/x", "fallback value", "")
    path2 = write(tmp_path, "b.launch.xml", '<node pkg="p" exec="e" name="n" args="$(env NO)"/>')
    assert "environment variable NO is not set" in str(error_of(path2))


def test_find_pkg_share_with_fake_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    first = fake_prefix(tmp_path / "first", "pkg_a")
    second = fake_prefix(tmp_path / "second", "pkg_a", "pkg_b")
    (first / "share" / "pkg_a" / "config" / "p.yaml").write_text("{}\n")
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{first}:{second}")
    path = write(tmp_path, "a.launch.xml", """
        <let name="pkg" value="pkg_b"/>
        <node pkg="p" exec="e" name="n" args="$(find-pkg-share $(var pkg))">
          <param from="$(find-pkg-share pkg_a)/config/p.yaml"/>
        </node>
    """)
    (node,) = parse_launch_file(path, {}).nodes  # environ defaults to os.environ
    assert node.arguments == (str(second / "share" / "pkg_b"),)
    assert node.parameters == (ParamFile(str(first / "share" / "pkg_a/config/p.yaml")),)
    assert find_package_share("pkg_c", f"{first}:{second}") is None
    missing = write(tmp_path, "b.launch.xml",
                    '<node pkg="p" exec="e" name="n" args="$(find-pkg-share nope)"/>')
    err = error_of(missing, environ={"AMENT_PREFIX_PATH": str(first)})
    assert "find-pkg-share nope" in str(err) and "package not found" in str(err)


def test_find_pkg_share_needs_the_ament_index_marker(tmp_path: Path) -> None:
    """A share/ folder alone is not a package: ament_index decides, as in ROS."""
    prefix = fake_prefix(tmp_path / "prefix")
    (prefix / "share" / "ghost").mkdir()
    assert find_package_share("ghost", str(prefix)) is None


def test_dirname_is_the_current_file_even_when_included(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "inner.launch.xml", '<node pkg="p" exec="e" name="inner" args="$(dirname)"/>')
    path = write(tmp_path, "a.launch.xml", """
        <node pkg="p" exec="e" name="outer" args="$(dirname)"/>
        <include file="$(dirname)/sub/inner.launch.xml"/>
    """)
    assert [n.arguments for n in parse(path)] == [(str(tmp_path),), (str(sub),)]


@pytest.mark.parametrize("expression", [
    "$(command ls)", "$(eval 1+1)", "$(find-pkg-prefix p)", "$(anon x)",
])
def test_unsupported_substitution_rejected(tmp_path: Path, expression: str) -> None:
    path = write(tmp_path, "a.launch.xml", f"""
        <node pkg="p" exec="e" name="n"
              args="{expression}"/>
    """)
    err = error_of(path)
    assert err.line == 2 and err.element == "node"
    assert "unsupported substitution" in str(err) and "$(var NAME)" in str(err)


@pytest.mark.parametrize("value, fragment", [
    ("$(var)", "takes 1-1 argument"),
    ("$(var a b)", "takes 1-1 argument"),
    ("$(dirname x)", "takes 0-0 argument"),
    ("$(var undefined_name)", "not defined here"),
    ("$(var x", "unterminated"),
])
def test_bad_substitution_usage(tmp_path: Path, value: str, fragment: str) -> None:
    path = write(tmp_path, "a.launch.xml", f'<let name="y" value="{value}"/>')
    err = error_of(path)
    assert err.line == 2 and fragment in str(err) and "'value'" in str(err)


# ------------------------------------------------------------------------- group / scope

def test_scoped_group_keeps_let_set_env_and_namespace_inside(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <let name="v" value="outer"/>
        <set_env name="A" value="outer"/>
        <group>
          <let name="v" value="inner"/>
          <set_env name="A" value="inner"/>
          <set_env name="B" value="inner"/>
          <push-ros-namespace namespace="ns"/>
          <node pkg="p" exec="e" name="in_group" args="$(var v)"/>
        </group>
        <node pkg="p" exec="e" name="after" args="$(var v)"/>
    """)
    inside, after = parse(path)
    assert (inside.arguments, inside.env, inside.namespace) == (
        ("inner",), (("A", "inner"), ("B", "inner")), "/ns")
    assert (after.arguments, after.env, after.namespace) == (("outer",), (("A", "outer"),), "/")


def test_unscoped_group_leaks(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <group scoped="false">
          <let name="v" value="inner"/>
          <set_env name="A" value="inner"/>
          <push-ros-namespace namespace="ns"/>
        </group>
        <node pkg="p" exec="e" name="after" args="$(var v)"/>
    """)
    (after,) = parse(path)
    assert (after.arguments, after.env, after.namespace) == (("inner",), (("A", "inner"),),
                                                             "/ns")


def test_node_env_overrides_set_env(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <set_env name="A" value="1"/>
        <set_env name="B" value="2"/>
        <node pkg="p" exec="e" name="n"><env name="A" value="node"/></node>
    """)
    assert dict(parse(path)[0].env) == {"A": "node", "B": "2"}


def test_env_substitution_sees_set_env(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <set_env name="MY_VAR" value="from_set_env"/>
        <node pkg="p" exec="e" name="n" args="$(env MY_VAR)"/>
    """)
    assert parse(path, environ={"MY_VAR": "process"})[0].arguments == ("from_set_env",)


# ------------------------------------------------------------------------- if / unless

@pytest.mark.parametrize("flag, expected", [
    ("true", ["always", "if_on", "group_if", "include_if"]),
    ("false", ["always", "unless_on", "group_unless"]),
    ("1", ["always", "if_on", "group_if", "include_if"]),
    ("0", ["always", "unless_on", "group_unless"]),
])
def test_if_unless_on_node_group_include(tmp_path: Path, flag: str, expected: list[str]
                                         ) -> None:
    write(tmp_path, "inc.launch.xml", '<node pkg="p" exec="e" name="include_if"/>')
    path = write(tmp_path, "a.launch.xml", """
        <arg name="flag" default="false"/>
        <node pkg="p" exec="e" name="always"/>
        <node pkg="p" exec="e" name="if_on" if="$(var flag)"/>
        <node pkg="p" exec="e" name="unless_on" unless="$(var flag)"/>
        <group if="$(var flag)"><node pkg="p" exec="e" name="group_if"/></group>
        <group unless="$(var flag)"><node pkg="p" exec="e" name="group_unless"/></group>
        <include file="$(dirname)/inc.launch.xml" if="$(var flag)"/>
    """)
    assert [n.name for n in parse(path, {"flag": flag})] == expected


def test_if_requires_boolean_and_not_both(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", '<node pkg="p" exec="e" name="n" if="yes"/>')
    err = error_of(path)
    assert "must be true, false, 1 or 0" in str(err) and err.line == 2
    both = write(tmp_path, "b.launch.xml",
                 '<node pkg="p" exec="e" name="n" if="true" unless="false"/>')
    assert "cannot be used together" in str(error_of(both))


def test_conditional_let_and_set_env(tmp_path: Path) -> None:
    path = write(tmp_path, "a.launch.xml", """
        <let name="v" value="a"/>
        <let name="v" value="b" if="false"/>
        <set_env name="E" value="x" unless="true"/>
        <node pkg="p" exec="e" name="n" args="$(var v)"/>
    """)
    (node,) = parse(path)
    assert node.arguments == ("a",) and node.env == ()


# ------------------------------------------------------------------------- include

def test_include_with_args_overrides_default_and_leaks_like_ros2(tmp_path: Path) -> None:
    write(tmp_path, "base.launch.xml", """
        <arg name="robot" default="arm"/>
        <arg name="speed" default="1.0"/>
        <set_env name="FROM_BASE" value="1"/>
        <node pkg="p" exec="e" name="$(var robot)_driver" args="$(var speed)"/>
    """)
    path = write(tmp_path, "scenario.launch.xml", """
        <arg name="speed" default="0.5"/>
        <include file="$(dirname)/base.launch.xml">
          <arg name="robot" value="mobile"/>
        </include>
        <node pkg="p" exec="e" name="after" args="$(var robot)"/>
    """)
    driver, after = parse(path)
    # the caller's speed reaches the include (shared scope); robot is passed explicitly
    assert (driver.name, driver.arguments) == ("mobile_driver", ("0.5",))
    # ros2 includes are unscoped: include args and set_env remain visible afterwards
    assert after.arguments == ("mobile",) and dict(after.env) == {"FROM_BASE": "1"}


def test_caller_arg_may_target_an_included_file(tmp_path: Path) -> None:
    write(tmp_path, "base.launch.xml", """
        <arg name="seed" default="0"/>
        <node pkg="p" exec="e" name="sim" args="$(var seed)"/>
    """)
    path = write(tmp_path, "scenario.launch.xml",
                 '<include file="$(dirname)/base.launch.xml"/>')
    description = parse_launch_file(path, {"seed": "42"}, environ={})
    assert description.nodes[0].arguments == ("42",)
    assert description.files == (path, tmp_path / "base.launch.xml")


def test_include_in_scoped_group_does_not_leak(tmp_path: Path) -> None:
    write(tmp_path, "base.launch.xml", '<arg name="robot" default="arm"/>')
    path = write(tmp_path, "a.launch.xml", """
        <group>
          <include file="$(dirname)/base.launch.xml"><arg name="robot" value="x"/></include>
        </group>
        <node pkg="p" exec="e" name="n" args="$(var robot)"/>
    """)
    err = error_of(path)
    assert err.line == 5 and "$(var robot) is not defined" in str(err)


def test_include_undeclared_arg_rejected(tmp_path: Path) -> None:
    write(tmp_path, "base.launch.xml", '<arg name="robot" default="arm"/>')
    path = write(tmp_path, "a.launch.xml", """
        <include file="$(dirname)/base.launch.xml">
          <arg name="robto" value="x"/>
        </include>
    """)
    err = error_of(path)
    assert err.line == 3 and err.element == "arg"
    assert "'robto' is not declared" in str(err) and "declared: robot" in str(err)


def test_included_required_arg_must_be_passed_explicitly(tmp_path: Path) -> None:
    """ros2 launch: a no-default arg of an included file must be given by the <include>."""
    write(tmp_path, "base.launch.xml", '<arg name="robot"/>')
    path = write(tmp_path, "a.launch.xml", """
        <let name="robot" value="arm"/>
        <include file="$(dirname)/base.launch.xml"/>
    """)
    err = error_of(path)
    assert err.file == tmp_path / "base.launch.xml" and err.line == 2
    assert "does not pass it" in str(err) and f"included from {path}:3" in str(err)


def test_include_errors_name_the_included_file(tmp_path: Path) -> None:
    write(tmp_path, "bad.launch.xml", """
        <node pkg="p" exec="e" name="n"
              launch-prefix="gdb"/>
    """)
    path = write(tmp_path, "a.launch.xml", '<include file="$(dirname)/bad.launch.xml"/>')
    err = error_of(path)
    assert err.file == tmp_path / "bad.launch.xml" and err.line == 2
    assert "unsupported attribute 'launch-prefix'" in str(err)
    assert f"included from {path}:2" in str(err)


def test_include_missing_python_and_cycle(tmp_path: Path) -> None:
    missing = write(tmp_path, "a.launch.xml", '<include file="$(dirname)/nope.launch.xml"/>')
    assert "does not exist" in str(error_of(missing))
    (tmp_path / "x.launch.py").write_text("")
    python = write(tmp_path, "b.launch.xml", '<include file="$(dirname)/x.launch.py"/>')
    assert "only XML launch files" in str(error_of(python))
    cycle = write(tmp_path, "c.launch.xml", '<include file="$(dirname)/c.launch.xml"/>')
    assert "include cycle" in str(error_of(cycle))


# ------------------------------------------------------------------------- rejections

@pytest.mark.parametrize("body, element, fragment", [
    ('<executable cmd="ls"/>', "executable", "unsupported element <executable>"),
    ('<node_container pkg="p" exec="e" name="n"/>', "node_container",
     "unsupported element <node_container>"),
    ('<set_remap from="a" to="b"/>', "set_remap", "unsupported element <set_remap>"),
    ('<log message="hi"/>', "log", "allowed: arg, let, node"),
    ('<node pkg="p" exec="e" name="n" launch-prefix="gdb"/>', "node",
     "unsupported attribute 'launch-prefix'; allowed: args, exec, if, name, namespace"),
    ('<node pkg="p" exec="e" name="n" ros_args="-p a:=1"/>', "node",
     "unsupported attribute 'ros_args'"),
    ('<node pkg="p" exec="e"/>', "node", "missing required attribute 'name'"),
    ('<node exec="e" name="n"/>', "node", "missing required attribute 'pkg'"),
    ('<node pkg="p" exec="e" name="n" on_exit="restart"/>', "node",
     "on_exit='restart' is not supported; allowed: shutdown"),
    ('<node pkg="p" exec="e" name="n" respawn="true"/>', "node", "respawn=\"true\""),
    ('<node pkg="p" exec="e" name="n" output="own_log"/>', "node", "output must be one of"),
    ('<node pkg="p" exec="e" name="bad-name"/>', "node", "node name 'bad-name' is invalid"),
    ('<node pkg="p" exec="e" name="n" namespace="a//b"/>', "node", "namespace 'a//b'"),
    ('<node pkg="p" exec="e" name="n"><param name="a"/></node>', "param",
     "use either <param from"),
    ('<node pkg="p" exec="e" name="n"><param name="a" value="1" sep=","/></node>', "param",
     "unsupported attribute 'sep'"),
    ('<node pkg="p" exec="e" name="n"><param from="/no/such.yaml"/></node>', "param",
     "does not exist"),
    ('<node pkg="p" exec="e" name="n"><param name="a"><param name="b" value="1"/></param>'
     '</node>', "param", "no children allowed"),
    ('<node pkg="p" exec="e" name="n"><remap from="a"/></node>', "remap",
     "missing required attribute 'to'"),
    ('<node pkg="p" exec="e" name="n"><arg name="a" value="b"/></node>', "arg",
     "allowed: param, remap, env"),
    ('<group ns="x"/>', "group", "unsupported attribute 'ns'"),
    ('<group forwarding="false"/>', "group", "unsupported attribute 'forwarding'"),
    ('<group scoped="maybe"/>', "group", "must be true, false"),
    ('<let name="a"/>', "let", "missing required attribute 'value'"),
    ('<set_env name="a"/>', "set_env", "missing required attribute 'value'"),
    ('<unset_env name="a"/>', "unset_env", "unsupported element <unset_env>"),
    ('<push-ros-namespace ns="a"/>', "push-ros-namespace", "unsupported attribute 'ns'"),
    ('<include file="x.launch.xml" scoped="true"/>', "include", "unsupported attribute"),
    ('<arg name="a" default="1" if="true"/>', "arg", "unsupported attribute 'if'"),
    ('<arg name="a" default="1"><choice/></arg>', "choice", "missing required attribute"),
    ('<let name="a" value="1">text</let>', "let", "text content is not allowed"),
])
def test_unsupported_features_name_line_and_element(
        tmp_path: Path, body: str, element: str, fragment: str) -> None:
    path = write(tmp_path, "a.launch.xml", f"<!-- line 2 is a comment -->\n{body}")
    err = error_of(path)
    assert err.line == 3, str(err)
    assert err.element == element, str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"{path}:3: <{element}>: ")


def test_root_must_be_launch_and_xml_must_be_well_formed(tmp_path: Path) -> None:
    other = write(tmp_path, "a.launch.xml", "<launch_file>\n</launch_file>")
    assert "root element must be <launch>" in str(error_of(other))
    broken = tmp_path / "b.launch.xml"
    broken.write_text("<launch>\n  <node pkg='p'\n</launch>\n")
    err = error_of(broken)
    assert "malformed XML" in str(err) and err.line == 3
    version = write(tmp_path, "c.launch.xml", '<launch version="1"></launch>')
    assert "<launch> takes none" in str(error_of(version))

