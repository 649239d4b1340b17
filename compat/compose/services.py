#!/usr/bin/env python3
"""Prints, for each service of a compose file as `docker-compose config` resolves
it, one shell-quoted line: SERVICE HOSTNAME VOLUME_TARGET KEY=VALUE...

The environment is what the container would get; the caller starts the binary
with it, in a network namespace named after the service."""
import shlex
import subprocess
import sys

import yaml


def main() -> int:
    compose_file = sys.argv[1]
    resolved = subprocess.run(
        ["docker-compose", "-f", compose_file, "config"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    services = yaml.safe_load(resolved)["services"]
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        volumes = service.get("volumes") or []
        target = ""
        for volume in volumes:
            spec = volume if isinstance(volume, str) else f"x:{volume['target']}"
            target = spec.split(":")[1]
        words = [name, service.get("hostname", name), target or "-"]
        words += [f"{k}={'' if v is None else v}" for k, v in sorted(env.items())]
        print(" ".join(shlex.quote(w) for w in words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
