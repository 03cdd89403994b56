"""What staff do: the desk (answers, notices, scope corrections), its queries and forms."""
