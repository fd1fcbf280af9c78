"""Deployment artefacts for model files: ``torch.export`` programs and ONNX.

Only :mod:`cnngen.deploy.export` imports torch; the CLI imports it lazily,
when ``cnngen export`` runs, and ``cnngen verify``'s child process uses it for
its export checks.  Importing this package imports nothing heavy.
"""
