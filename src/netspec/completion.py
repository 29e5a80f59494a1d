"""Shell completion for bash, zsh and fish, written from the CLI's own parser.

``netspec completion bash`` prints a script that knows every subcommand, flag and choice
(read from the argparse parsers, so it cannot drift from the CLI); what depends on a
spec file — the param names ``--set`` takes and the variant names ``--variant`` takes —
the script asks ``netspec completion --params SPEC`` / ``--variants SPEC`` for while the
user types. Those read only the spec's top-level mappings through the front end's source
reader (:func:`spec_names`): no validation, no torch, and nothing at all for a file that
cannot be read. Nothing here is imported by other commands, so ``netspec check`` pays
nothing for completion.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import NetspecError
from .source import read_path

SHELLS = ("bash", "zsh", "fish")
#: Top-level mappings of a spec whose keys the completion offers, by the flag that takes
#: them: ``--set NAME=VALUE`` (params) and ``--variant NAME`` (a mapping of variant names,
#: ``variants: {small: {ratio: 8}}``).
NAMED = {"--set": "params", "--variant": "variants"}


def spec_names(path: str, key: str) -> list[str]:
    """The keys of the top-level mapping ``key`` of the spec at ``path``, in file order.

    Read without validating (a spec being edited may be invalid elsewhere); an unreadable
    file, or one without such a mapping, has no names.
    """
    try:
        root = read_path(path).root
    except NetspecError:
        return []
    node = root.get(key)
    if node is None or not isinstance(node.value, dict):
        return []
    return [name for name in node.value if name.isidentifier()]


@dataclass
class Command:
    """What completion needs to know of one subcommand."""

    name: str
    flags: list[str] = field(default_factory=list)
    #: Flags that take a value, and what to offer for it: choices, or "file", "dir", "".
    values: dict[str, list[str] | str] = field(default_factory=dict)
    #: What the positional arguments are: "spec" files, any "file", choices, or "".
    positional: list[str] | str = ""


def describe(subcommands: Mapping[str, argparse.ArgumentParser]) -> list[Command]:
    """The subcommands, their flags, flag values and positionals, from their parsers."""
    commands = []
    for name, parser in subcommands.items():
        command = Command(name)
        for action in parser._actions:
            if not action.option_strings:
                if not command.positional:
                    command.positional = _offered(action, positional=True)
                continue
            command.flags.extend(action.option_strings)
            if action.nargs != 0:
                for flag in action.option_strings:
                    command.values[flag] = _offered(action)
        commands.append(command)
    return commands


def _offered(action: argparse.Action, positional: bool = False) -> list[str] | str:
    """What to complete for an argument: its choices, spec files, files, directories."""
    if action.choices:
        return [str(choice) for choice in action.choices]
    label = f"{action.dest} {action.metavar or ''}".lower()
    if positional:
        return "spec" if action.dest == "spec" else "file"
    if action.type in (int, float):
        return ""
    if "dir" in label or action.dest == "resume":
        return "dir"
    if any(word in label for word in ("file", "output", "weights", "state_dict", "ckpt")):
        return "file"
    return ""


def script(shell: str, subcommands: Mapping[str, argparse.ArgumentParser]) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    commands = describe(subcommands)
    return _fish(commands) if shell == "fish" else _SYNTAX[shell].script(commands)


def _words(items: list[str]) -> str:
    return " ".join(items)


def _cases(commands: list[Command], offer: Callable[[list[str] | str], str]) -> str:
    """The per-subcommand ``case`` branches of the bash and zsh functions.

    ``offer`` writes the shell's command that offers words, files or directories (or
    nothing, for ""); a value of ``--set``/``--variant`` is handled before these branches.
    """
    branches = []
    for command in commands:
        values = [
            f"        {flag}) {offer(offered)}; return;;"
            for flag, offered in command.values.items()
            if flag not in NAMED
        ]
        lines = [
            f"{command.name})",
            "    case $prev in",
            *values,
            "    esac",
            f"    if [[ $cur == -* ]]; then {offer(command.flags)}; return; fi",
            f"    {offer(command.positional)};;",
        ]
        branches.append("\n".join(" " * 8 + line for line in lines))
    return "\n".join(branches)


@dataclass(frozen=True)
class _Syntax:
    """How one shell's completion function is written: its template and how it offers."""

    template: str
    #: Offers fixed words; ``{words}`` is replaced by them.
    words: str
    #: Offers spec files, any file, directories.
    spec: str
    file: str
    dir: str
    #: Offers nothing.
    nothing: str

    def offer(self, offered: list[str] | str) -> str:
        if isinstance(offered, list):
            return self.words.replace("{words}", _words(offered))
        return getattr(self, offered) if offered in ("spec", "file", "dir") else self.nothing

    def script(self, commands: list[Command]) -> str:
        names = _words([c.name for c in commands])
        cases = _cases(commands, self.offer)
        return self.template.replace("@COMMANDS@", names).replace("@CASES@", cases)


_BASH = r"""# netspec completion for bash: eval "$(netspec completion bash)" in ~/.bashrc,
# or save it as ~/.local/share/bash-completion/completions/netspec
_netspec_files() {  # files ("spec": only .yaml, .yml and .json) and directories
    local IFS=$'\n' f
    COMPREPLY=()
    for f in $(compgen -f -- "$cur"); do
        if [[ $1 != spec || -d $f || $f == *.yaml || $f == *.yml || $f == *.json ]]; then
            COMPREPLY+=("$f")
        fi
    done
    compopt -o filenames 2>/dev/null
}
_netspec_dirs() {
    local IFS=$'\n'
    COMPREPLY=($(compgen -d -- "$cur"))
    compopt -o filenames 2>/dev/null
}
_netspec_names() {  # $1: --set or --variant; names read from the spec on the line
    local i spec=""
    for ((i = 2; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in *.yaml|*.yml|*.json) spec=${COMP_WORDS[i]}; break;; esac
    done
    [[ -n $spec ]] || { COMPREPLY=(); return; }
    local names
    if [[ $1 == --set ]]; then
        names=$("${COMP_WORDS[0]}" completion --params "$spec" 2>/dev/null | sed 's/$/=/')
        compopt -o nospace 2>/dev/null
    else
        names=$("${COMP_WORDS[0]}" completion --variants "$spec" 2>/dev/null)
    fi
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}
_netspec() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "@COMMANDS@ --help --version" -- "$cur"))
        return
    fi
    case $prev in
        --set|--variant) _netspec_names "$prev"; return;;
    esac
    case ${COMP_WORDS[1]} in
@CASES@
        *) COMPREPLY=();;
    esac
}
complete -F _netspec netspec
"""


_ZSH = r"""#compdef netspec
# netspec completion for zsh: eval "$(netspec completion zsh)" in ~/.zshrc, or save it as
# _netspec in a folder of your $fpath
_netspec_names() {  # $1: --params or --variants; names read from the spec on the line
    local word
    for word in ${words[3,CURRENT-1]}; do
        if [[ $word == *.(yaml|yml|json) ]]; then
            ${words[1]} completion $1 $word 2>/dev/null
            return
        fi
    done
}
_netspec() {
    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    if (( CURRENT == 2 )); then
        compadd -- @COMMANDS@ --help --version
        return
    fi
    case $prev in
        --set) local -a names=(${(f)"$(_netspec_names --params)"})
            (( $#names )) && compadd -S '' -- ${^names}=; return;;
        --variant) compadd -- ${(f)"$(_netspec_names --variants)"}; return;;
    esac
    case ${words[2]} in
@CASES@
    esac
}
(( $+functions[compdef] )) || { autoload -U compinit && compinit; }
compdef _netspec netspec
"""


_SYNTAX = {
    "bash": _Syntax(
        _BASH,
        words='COMPREPLY=($(compgen -W "{words}" -- "$cur"))',
        spec="_netspec_files spec",
        file="_netspec_files",
        dir="_netspec_dirs",
        nothing="COMPREPLY=()",
    ),
    "zsh": _Syntax(
        _ZSH,
        words="compadd -- {words}",
        spec="_files -g '*.(yaml|yml|json)'",
        file="_files",
        dir="_directories",
        nothing="return 1",
    ),
}


def _fish(commands: list[Command]) -> str:
    names = _words([c.name for c in commands])
    lines = [
        "# netspec completion for fish: netspec completion fish > "
        "~/.config/fish/completions/netspec.fish",
        "function __netspec_spec",
        "    for word in (commandline -opc)[3..-1]",
        "        string match -qr '\\.(ya?ml|json)$' -- $word; and echo $word; and return",
        "    end",
        "end",
        "function __netspec_spec_files  # .yaml, .yml, .json files and directories",
        "    for f in (commandline -ct)*",
        "        if test -d $f",
        "            echo $f/",
        "        else if string match -qr '\\.(ya?ml|json)$' -- $f",
        "            echo $f",
        "        end",
        "    end",
        "end",
        "function __netspec_names",
        "    set -l spec (__netspec_spec); or return",
        "    netspec completion $argv[1] $spec 2>/dev/null | string replace -r '$' $argv[2]",
        "end",
        "complete -c netspec -f",
        f'complete -c netspec -n __fish_use_subcommand -a "{names}"',
    ]
    for command in commands:
        when = f"-n '__fish_seen_subcommand_from {command.name}'"
        for flag in command.flags:
            lines.append(f"complete -c netspec {when} {_fish_flag(flag, command.values)}")
        if isinstance(command.positional, list):
            lines.append(f'complete -c netspec {when} -a "{_words(command.positional)}"')
        elif command.positional == "spec":
            lines.append(f"complete -c netspec {when} -a '(__netspec_spec_files)'")
        elif command.positional:
            lines.append(f"complete -c netspec {when} -F")
    return "\n".join(lines) + "\n"


def _fish_flag(flag: str, values: dict[str, list[str] | str]) -> str:
    option = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
    offered = values.get(flag)
    if flag == "--set":
        return f"{option} -x -a '(__netspec_names --params =)'"
    if flag == "--variant":
        return f"{option} -x -a '(__netspec_names --variants \"\")'"
    if isinstance(offered, list):
        return f'{option} -x -a "{_words(offered)}"'
    if offered == "dir":
        return f"{option} -x -a '(__fish_complete_directories)'"
    if offered == "file":
        return f"{option} -r -F"
    return f"{option} -x" if flag in values else option
