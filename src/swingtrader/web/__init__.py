"""The dashboard: pages, JSON API, actions, /metrics and health checks, served from a daemon thread.

Heavy (FastAPI, uvicorn, Jinja2): import it only where the dashboard is served.
"""

from swingtrader.web.app import create_app
from swingtrader.web.auth import BindRefused, check_bind
from swingtrader.web.control import ServiceControl
from swingtrader.web.server import WebHandle, start_web_in_thread

__all__ = ["BindRefused", "ServiceControl", "WebHandle", "check_bind", "create_app", "start_web_in_thread"]
