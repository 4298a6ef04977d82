"""The function folder layout shared with LivePerson's `lpf` CLI (runtime-and-toolbelt.md §1.4).

    ROOT/bin/                        lpf's helpers (lpf looks for it next to functions/)
    ROOT/functions/settings.json     {"secrets": [{key, value}], "whitelist": [domain]}  — local runs only
    ROOT/functions/NAME/config.json  {name, event, description, input: {headers, payload},
                                      environmentVariables: [{key, value}], dependencies: [], runtime}
    ROOT/functions/NAME/index.js     Node.js code   (or main.py for Python)

lpf reads ``environmentVariables[0].key`` unguarded, so an empty list is written as one empty pair, and an empty
pair is read as "none". lpf ignores ``runtime``; fngate takes the runtime from it, else from the code file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.devcli.errors import CliError, Exit, usage

CODE_FILES = {"node": "index.js", "python": "main.py"}
RUNTIME_IDS = {"node": "nodejs20", "python": "python3.11"}
NO_EVENT = "No Event"
EMPTY_PAIR = [{"key": "", "value": ""}]


def language_of(runtime: str | None) -> str | None:
    low = (runtime or "").lower()
    if low.startswith(("node", "javascript")):
        return "node"
    if low.startswith("python"):
        return "python"
    return None


@dataclass
class LocalFunction:
    name: str
    folder: Path
    language: str
    code: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def runtime(self) -> str:
        return RUNTIME_IDS[self.language]

    @property
    def code_file(self) -> Path:
        return self.folder / CODE_FILES[self.language]

    @property
    def event(self) -> str | None:
        event = self.config.get("event")
        return event if isinstance(event, str) and event and event != NO_EVENT else None

    @property
    def description(self) -> str:
        return str(self.config.get("description") or "")

    @property
    def environment(self) -> dict[str, str]:
        return pairs_to_dict(self.config.get("environmentVariables"), f"{self.name}/config.json environmentVariables")

    @property
    def dependencies(self) -> dict[str, str]:
        """Declared packages: lpf's ``[{key, value}]`` (or a ``{name: version}`` object) → {name: version}."""
        raw = self.config.get("dependencies")
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return pairs_to_dict(raw, f"{self.name}/config.json dependencies")

    @property
    def input(self) -> dict[str, Any]:
        raw = self.config.get("input")
        if not isinstance(raw, dict):
            return {"headers": [], "payload": {}}
        return {"headers": raw.get("headers") or [], "payload": raw.get("payload", {})}


def pairs_to_dict(pairs: Any, where: str) -> dict[str, str]:
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise usage(f"{where} must be a list of {{key, value}}")
    out = {}
    for pair in pairs:
        if not isinstance(pair, dict) or "key" not in pair:
            raise usage(f"{where} must be a list of {{key, value}}")
        if pair["key"]:
            out[str(pair["key"])] = "" if pair.get("value") is None else str(pair.get("value"))
    return out


def dict_to_pairs(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in env.items()] or [dict(p) for p in EMPTY_PAIR]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "functions").is_dir():
                return cls(folder)
        raise CliError(f"no functions/ folder in {here} or above", Exit.USAGE,
                       hint="run fngate init NAME --event EVENT to start one here")

    @classmethod
    def here_or_new(cls, start: Path | None = None) -> Project:
        try:
            return cls.find(start)
        except CliError:
            return cls((start or Path.cwd()).resolve())

    @property
    def functions_dir(self) -> Path:
        return self.root / "functions"

    @property
    def settings_path(self) -> Path:
        return self.functions_dir / "settings.json"

    def names(self) -> list[str]:
        if not self.functions_dir.is_dir():
            return []
        return sorted(p.name for p in self.functions_dir.iterdir()
                      if p.is_dir() and (p / "config.json").exists())

    def exists(self, name: str) -> bool:
        return (self.functions_dir / name).exists()

    def load(self, name: str) -> LocalFunction:
        folder = self.functions_dir / name
        if not (folder / "config.json").exists():
            raise CliError(f"no function folder functions/{name} (with config.json) in {self.root}", Exit.NOT_FOUND,
                           hint=f"local functions: {', '.join(self.names()) or 'none'}")
        config = read_json(folder / "config.json")
        if not isinstance(config, dict):
            raise usage(f"functions/{name}/config.json must hold a JSON object")
        language = language_of(config.get("runtime"))
        if language is None:
            present = [lang for lang, file in CODE_FILES.items() if (folder / file).exists()]
            if len(present) != 1:
                raise usage(f"functions/{name} must hold exactly one of index.js or main.py "
                            "(or name the runtime in config.json)")
            language = present[0]
        code_file = folder / CODE_FILES[language]
        if not code_file.exists():
            raise usage(f"functions/{name}/{CODE_FILES[language]} is missing")
        return LocalFunction(name, folder, language, code_file.read_text(), config)

    def settings(self) -> dict[str, Any]:
        if not self.settings_path.exists():
            return {"secrets": [], "whitelist": []}
        data = read_json(self.settings_path)
        if not isinstance(data, dict):
            raise usage("functions/settings.json must hold a JSON object")
        return data

    def secrets(self) -> dict[str, Any]:
        """Local secrets by key; a value may be any JSON (the Toolbelt hands it to the function as stored)."""
        raw = self.settings().get("secrets") or []
        if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
            raise usage("functions/settings.json secrets must be a list of {key, value}")
        return {str(p["key"]): p.get("value") for p in raw if p.get("key")}

    def whitelist(self) -> list[str]:
        return [str(d) for d in self.settings().get("whitelist") or [] if d]

    def write(self, fn: LocalFunction) -> None:
        fn.folder.mkdir(parents=True, exist_ok=True)
        for language, file in CODE_FILES.items():  # one code file per folder
            if language != fn.language and (fn.folder / file).exists():
                (fn.folder / file).unlink()
        fn.code_file.write_text(fn.code)
        write_json(fn.folder / "config.json", fn.config)

    def ensure_scaffold(self) -> None:
        """What lpf expects beside the functions: bin/ and functions/settings.json."""
        self.functions_dir.mkdir(parents=True, exist_ok=True)
        bin_dir = self.root / "bin"
        if not bin_dir.exists():
            bin_dir.mkdir()
            (bin_dir / ".gitkeep").write_text("")
        if not self.settings_path.exists():
            write_json(self.settings_path, {"secrets": [dict(p) for p in EMPTY_PAIR], "whitelist": []})


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise usage(f"{path} is not valid JSON: {err}") from None
    except OSError as err:
        raise usage(f"cannot read {path}: {err.strerror}") from None


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=4) + "\n")


def new_config(name: str, event: str | None, description: str, payload: Any, language: str) -> dict[str, Any]:
    return {"name": name, "event": event or NO_EVENT, "description": description,
            "input": {"headers": [], "payload": payload}, "environmentVariables": [dict(p) for p in EMPTY_PAIR],
            "dependencies": [], "runtime": RUNTIME_IDS[language]}
