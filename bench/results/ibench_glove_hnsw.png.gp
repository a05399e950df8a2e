set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100-100k (n=100000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
11490.038 0.89545
12789.495 0.89545
8981.437 0.91455
7001.350 0.93915
6371.175 0.96205
4444.742 0.97415
1284.560 0.99120
623.191 0.99710
EOD
$d1 << EOD
13205.626 0.89545
13776.347 0.89545
10191.906 0.91455
4904.900 0.93915
10191.087 0.96205
5044.467 0.97415
1406.839 0.99120
631.362 0.99710
EOD
$d2 << EOD
3028.474 0.95190
2735.462 0.95190
2547.565 0.95190
3178.645 0.95190
2927.159 0.96155
1944.544 0.97360
677.271 0.99090
708.372 0.99685
EOD
$d3 << EOD
2763.686 0.95190
2176.438 0.95190
2857.454 0.95190
3144.329 0.95190
2946.346 0.96155
1910.173 0.97360
911.678 0.99090
511.479 0.99685
EOD
$d4 << EOD
5786.787 0.80090
4394.717 0.86845
3388.846 0.91180
2442.399 0.93725
1676.287 0.96200
1836.901 0.97335
910.548 0.99145
454.575 0.99715
EOD
$d5 << EOD
5340.627 0.80090
4469.345 0.86845
3570.558 0.91180
2808.534 0.93725
1779.717 0.96200
1798.859 0.97335
844.712 0.99145
613.689 0.99715
EOD
$d6 << EOD
3207.442 0.81625
2754.194 0.89125
1527.608 0.93235
1219.580 0.95105
796.066 0.96990
793.722 0.97895
402.278 0.99130
204.773 0.99765
EOD
$d7 << EOD
3843.415 0.81625
2108.356 0.89125
1397.504 0.93235
1051.349 0.95105
766.604 0.96990
773.952 0.97895
414.606 0.99130
184.110 0.99765
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
