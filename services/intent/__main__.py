from shared.runtime import run_service

from services.intent.service import build

if __name__ == "__main__":
    run_service(build)
