import { prismaConformance } from './conformance.js';

prismaConformance('mysql', 'MariaDB');
