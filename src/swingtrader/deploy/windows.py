"""Windows: a Task Scheduler task that starts the service at boot, without a time limit, and restarts it
up to three times five minutes apart when it fails. Rendered as a PowerShell script to run or review."""

from __future__ import annotations

from pathlib import PureWindowsPath

TASK_NAME = "swingtrader"


def render_install_script(exec_path: str, config_file: str, data_dir: str) -> str:
    """PowerShell that (re-)registers the task for the current user; it runs whether or not they are logged on.

    Paths should be absolute Windows paths. Registering a task that runs without a logon may need an
    elevated (Administrator) PowerShell.
    """
    exe, cfg, work = (str(PureWindowsPath(p)) for p in (exec_path, config_file, data_dir))
    arguments = f'run --config "{cfg}"'
    return "\n".join([
        "# Written by `swingtrader service install`. Remove with `swingtrader service uninstall`.",
        "$ErrorActionPreference = 'Stop'",
        f"$action = New-ScheduledTaskAction -Execute {_ps(exe)} -Argument {_ps(arguments)} `",
        f"    -WorkingDirectory {_ps(work)}",
        "$trigger = New-ScheduledTaskTrigger -AtStartup",
        "$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) `",
        "    -RestartCount 3 -RestartInterval (New-TimeSpan -Minutes 5) `",
        "    -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -MultipleInstances IgnoreNew",
        '$principal = New-ScheduledTaskPrincipal -UserId "$env:USERDOMAIN\\$env:USERNAME" `',
        "    -LogonType S4U -RunLevel Limited",
        f"Register-ScheduledTask -TaskName {_ps(TASK_NAME)} -Action $action -Trigger $trigger -Settings $settings `",
        "    -Principal $principal -Description 'swingtrader swing-trading service' -Force | Out-Null",
        f"Write-Host \"Registered scheduled task '{TASK_NAME}'.\"",
        f"Write-Host 'Start it now with: Start-ScheduledTask -TaskName {TASK_NAME}'",
        "",
    ])


def render_uninstall_script() -> str:
    """PowerShell that stops and removes the task (no error if it is absent)."""
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        f"if (Get-ScheduledTask -TaskName {_ps(TASK_NAME)} -ErrorAction SilentlyContinue) {{",
        f"    Stop-ScheduledTask -TaskName {_ps(TASK_NAME)}",
        f"    Unregister-ScheduledTask -TaskName {_ps(TASK_NAME)} -Confirm:$false",
        f"    Write-Host \"Removed scheduled task '{TASK_NAME}'.\"",
        "} else {",
        f"    Write-Host \"No scheduled task named '{TASK_NAME}'.\"",
        "}",
        "",
    ])


def _ps(text: str) -> str:
    """A PowerShell single-quoted literal (no variable expansion; `'` doubled)."""
    return "'" + text.replace("'", "''") + "'"
