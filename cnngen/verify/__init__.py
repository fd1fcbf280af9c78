"""``cnngen verify``: run a generated file in a child process and prove its shapes.

``runner`` is the parent (starts the child, enforces the time limit, reads the
report); ``child`` is the script that imports torch and the file under test.
"""
