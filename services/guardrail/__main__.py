from shared.runtime import run_service

from services.guardrail.service import build

if __name__ == "__main__":
    run_service(build)
