"""One reader per file format; each returns plain arrays in hessfit's internal units."""
