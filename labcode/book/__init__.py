"""La capa del libro: glue, ejercicios y mediciones de los apéndices."""
