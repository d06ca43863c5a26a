"""Run the synthesized state machines locally: moto's ASL interpreter, the real
handler code in-process, S3 in moto, and faithful fakes of the two services moto
lacks (Personalize data deletion, Clean Rooms ML), all on a virtual clock.

Used by the end-to-end tier (tests/e2e) and the benchmark (tests/bench).
"""
