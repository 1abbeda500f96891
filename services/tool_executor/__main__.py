from shared.runtime import run_service

from services.tool_executor.service import build

if __name__ == "__main__":
    run_service(build)
