from services.approvals.service import build
from shared.runtime.host import run_service

if __name__ == "__main__":
    run_service(build)
