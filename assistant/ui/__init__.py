"""What only the chat UI uses: rendering, interface strings, uploads, its settings."""
