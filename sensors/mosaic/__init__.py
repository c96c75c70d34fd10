"""The map pipeline: posed photos in, georeferenced mosaics out (``skyscan map``)."""
