"""``python -m cnngen`` runs the CLI."""

from cnngen.cli import main

if __name__ == "__main__":
    main()
