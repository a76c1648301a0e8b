import { prismaConformance } from './conformance.js';

prismaConformance('sqlite', 'SQLite');
