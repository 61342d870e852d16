"""The bundled samples besides the digits: data drawn in code, no download."""
