"""The decoder's pieces (float versions, used by fitting and by the CPU decoder alike)."""
