"""The real-model answers suite (issue 18, item 4): an evaluation set of conversations per
shipped workflow (`conversations.yaml`), run through the whole pipeline with the real local
model (`runner`), each judged strictly against the company's data (`judge`, `truth`), with
figures per workflow and per outcome (`report`).

Used by tests/model/test_answers.py (`-m model`) and benchmarks/model_quality.py.
"""
